"""The table of secret formats that :mod:`.redact` removes, and the checks behind it.

Provider formats follow the rules of the established scanners (gitleaks'
``config/gitleaks.toml``, Yelp's detect-secrets plugins, GitHub secret scanning): a
distinctive prefix, a fixed alphabet and length. Each has lower-case ``keywords``, one of
which must occur in the text before its pattern runs (gitleaks does the same), so a log
without any of them costs one substring search per keyword.

Values of assignments to secret-looking names (``DB_PASS=``, ``"apiKey": ``) are judged
by :func:`secret_value`: a password-like name hides any real value, a token-like name only
one that looks random (long enough, mixed characters, high Shannon entropy), so that
``max_tokens=256`` or ``token: expired`` stay readable.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass


@dataclass(frozen=True)
class Provider:
    """A secret with a recognisable format; ``group`` is the part to hide."""

    name: str
    keywords: tuple[str, ...]
    pattern: re.Pattern[str]
    group: int = 0


def _p(name: str, keywords: str, pattern: str, group: int = 0) -> Provider:
    return Provider(name, tuple(keywords.split()), re.compile(pattern), group)


_B = r"(?<![A-Za-z0-9_])"  # start of a token: no word character right before it
_E = r"(?![A-Za-z0-9_])"

# fmt: off
PROVIDERS: tuple[Provider, ...] = (
    # name, keywords (upper-case ones match case), pattern, group to hide
    _p(
        "AWS access key id",
        "AKIA ASIA ABIA ACCA A3T AGPA AIDA AROA AIPA ANPA ANVA APKA",
        rf"{_B}(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA)[A-Z0-9]{{16}}{_E}",
    ),
    _p("GitHub token", "ghp_ gho_ ghu_ ghs_ ghr_", rf"{_B}gh[pousr]_[A-Za-z0-9]{{30,}}"),
    _p("GitHub fine-grained token", "github_pat_", rf"{_B}github_pat_[A-Za-z0-9_]{{22,}}"),
    _p(
        "GitLab token",
        "glpat- gldt- glrt- glptt- glcbt- glft- glimt- glagent- gloas- glsoat- glwt-",
        rf"{_B}gl(?:pat|dt|rt|ptt|cbt|ft|imt|agent|oas|soat|wt)-[A-Za-z0-9_\-]{{20,}}",
    ),
    _p("GitLab runner token", "GR1348941", rf"{_B}GR1348941[A-Za-z0-9_\-]{{20,}}"),
    _p("Slack token", "xox", rf"{_B}xox[abposre]-[A-Za-z0-9\-]{{10,}}"),
    _p("Slack app token", "xapp-", rf"{_B}xapp-\d-[A-Z0-9]+-\d+-[a-z0-9]+"),
    _p(
        "Slack webhook",
        "hooks.slack.com",
        r"hooks\.slack\.com/(?:services|workflows|triggers)/([A-Za-z0-9+/_\-]{20,})",
        1,
    ),
    _p(
        "Stripe key",
        "sk_live_ sk_test_ rk_live_ rk_test_",
        rf"{_B}[sr]k_(?:live|test)_[A-Za-z0-9]{{10,}}",
    ),
    _p("Stripe webhook secret", "whsec_", rf"{_B}whsec_[A-Za-z0-9]{{20,}}"),
    _p(
        "OpenAI/Anthropic key",
        "sk-",
        rf"{_B}sk-(?:proj-|svcacct-|admin-|ant-(?:api|admin)\d\d-)?[A-Za-z0-9_\-]{{20,}}",
    ),
    _p("Hugging Face token", "hf_ api_org_", rf"{_B}(?:hf_|api_org_)[A-Za-z0-9]{{30,}}"),
    _p("Google API key", "AIza", rf"{_B}AIza[0-9A-Za-z_\-]{{35}}"),
    _p("Google OAuth client secret", "GOCSPX-", rf"{_B}GOCSPX-[A-Za-z0-9_\-]{{24,}}"),
    _p("Google OAuth access token", "ya29.", rf"{_B}ya29\.[A-Za-z0-9_\-]{{20,}}"),
    _p(
        "Azure AD client secret", "Q~", rf"{_B}[A-Za-z0-9_~.]{{3}}\dQ~[A-Za-z0-9_~.\-]{{31,34}}{_E}"
    ),
    _p("Azure SAS signature", "sig=", r"[?&]sig=([A-Za-z0-9%+/=]{20,})", 1),
    _p(
        "Azure storage or bus key",
        "accountkey= sharedaccesskey=",
        r"(?i:AccountKey|SharedAccessKey)=([A-Za-z0-9+/]{20,}={0,2})",
        1,
    ),
    _p("npm token", "npm_", rf"{_B}npm_[A-Za-z0-9]{{36}}{_E}"),
    _p("PyPI token", "pypi-", rf"{_B}pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_\-]{{20,}}"),
    _p("Docker Hub token", "dckr_pat_", rf"{_B}dckr_pat_[A-Za-z0-9_\-]{{20,}}"),
    _p(
        "JSON web token",
        "eyJ",
        rf"{_B}eyJ[A-Za-z0-9_\-]{{8,4096}}\.eyJ[A-Za-z0-9_\-]{{8,4096}}\.[A-Za-z0-9_\-]*",
    ),
    _p("SendGrid key", "SG.", rf"{_B}SG\.[A-Za-z0-9_\-]{{20,24}}\.[A-Za-z0-9_\-]{{39,50}}"),
    _p("Twilio key", "SK", rf"{_B}SK[0-9a-fA-F]{{32}}{_E}"),
    _p("Mailchimp key", "-us", rf"{_B}[0-9a-f]{{32}}-us\d{{1,2}}{_E}"),
    _p("Telegram bot token", ":AA", rf"{_B}\d{{8,10}}:AA[A-Za-z0-9_\-]{{30,40}}{_E}"),
    _p(
        "Shopify token", "shpat_ shpca_ shppa_ shpss_", rf"{_B}shp(?:at|ca|pa|ss)_[a-fA-F0-9]{{32}}"
    ),
    _p("DigitalOcean token", "dop_v1_ doo_v1_ dor_v1_", rf"{_B}do[opr]_v1_[a-f0-9]{{64}}"),
    _p("Databricks token", "dapi", rf"{_B}dapi[a-f0-9]{{32}}(?:-\d)?{_E}"),
    _p("Vault token", "hvs. hvb.", rf"{_B}hv[sb]\.[A-Za-z0-9_\-]{{24,}}"),
    _p("age secret key", "AGE-SECRET-KEY-1", r"AGE-SECRET-KEY-1[0-9A-Z]{50,}"),
    _p("Tailscale key", "tskey-", rf"{_B}tskey-[a-z]+-[A-Za-z0-9\-]{{20,}}"),
    _p("Grafana token", "glsa_ glc_", rf"{_B}(?:glsa|glc)_[A-Za-z0-9_+/=\-]{{32,}}"),
    _p("Postman key", "PMAK-", rf"{_B}PMAK-[a-f0-9]{{24}}-[a-f0-9]{{34}}"),
    _p("Replicate token", "r8_", rf"{_B}r8_[A-Za-z0-9]{{37}}{_E}"),
    _p("Groq key", "gsk_", rf"{_B}gsk_[A-Za-z0-9]{{48,}}"),
    _p(
        "Discord webhook",
        "/api/webhooks/",
        r"discord(?:app)?\.com/api/(?:v\d+/)?webhooks/\d+/([A-Za-z0-9_\-]{20,})",
        1,
    ),
    _p(
        "Microsoft Teams webhook",
        "webhook.office.com outlook.office.com outlook.office365.com",
        r"(?:webhook\.office\.com/webhookb2|outlook\.office(?:365)?\.com/webhook)/([^\s\"'<>]{20,})",
        1,
    ),
    _p(
        "kubeconfig private key",
        "client-key-data",
        r"client-key-data[\"']?[ \t]*:[ \t]*[\"']?([A-Za-z0-9+/]{16,}={0,2})",
        1,
    ),
    _p("Discord bot token", "discord",
       rf"{_B}[MNO][A-Za-z0-9]{{23,27}}\.[A-Za-z0-9_\-]{{6}}\.[A-Za-z0-9_\-]{{27,}}"),
)
# fmt: on
"""Secrets recognised by their format alone, wherever they occur."""

# --- assignments: NAME = value ---------------------------------------------------------------

STRONG_WORDS = frozenset({"password", "passwd", "passphrase", "pass", "pwd", "secret"})
"""A name ending in one of these hides any value that is not a placeholder."""
WEAK_WORDS = frozenset({"token", "auth", "sig", "signature", "credential", "credentials"})
"""A name ending in one of these hides a value only when it looks random."""
KEY_QUALIFIERS = {
    "secret": True,
    "private": True,
    "account": True,
    "access": False,
    "api": False,
    "auth": False,
    "client": False,
    "encryption": False,
    "signing": False,
    "master": False,
    "license": False,
    "session": False,
    "storage": False,
    "subscription": False,
    "consumer": False,
    "webhook": False,
    "app": False,
    "service": False,
}
"""``<qualifier>_key`` names; ``True`` means as strong as a password."""

NAME_WORDS = r"password|passwd|passphrase|pass|pwd|secret|token|key|auth|signature|sig|credentials|credential"
"""Alternation of the last words of secret-looking names (lower case)."""
NAME_KEYWORDS = ("pass", "pwd", "secret", "token", "key", "auth", "sig", "credential")
"""Substrings of :data:`NAME_WORDS`: a line without any of them holds no assignment."""

_PLACEHOLDER = re.compile(
    r"""(?ix)
    (?: none | null | nil | true | false | yes | no | undefined | required | optional
      | string | str | int | env | changeme? | redacted | hidden | masked | secret | password
      | [*x.•#_\-]* )\Z
    | [$<%{\[(] .*            # $VAR, ${VAR}, <your-token>, %(x)s, {{ x }}, [REDACTED], (...)
    """
)
_SPLIT_NAME = re.compile(r"[_.\-]+|(?<=[a-z0-9])(?=[A-Z])")


def shannon_entropy(value: str) -> float:
    """Bits per character of ``value`` (0 for an empty string)."""
    if not value:
        return 0.0
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in Counter(value).values())


def looks_random(value: str) -> bool:
    """Whether a value looks like a generated token rather than a word or a number."""
    if len(value) < 8:
        return False
    classes = sum(
        (
            any(c.islower() for c in value),
            any(c.isupper() for c in value),
            any(c.isdigit() for c in value),
            any(not c.isalnum() for c in value),
        )
    )
    if classes < 2 or value.isdigit():
        return False
    return shannon_entropy(value) >= (3.0 if len(value) < 20 else 3.3)


def name_strength(name: str) -> str | None:
    """``"strong"``, ``"weak"`` or ``None`` (not a secret's name) for an identifier.

    The last word of the name decides (``DB_PASS``, ``apiKey``, ``aws_secret_access_key``):
    ``password_file`` or ``max_tokens`` are not secrets' names.
    """
    words = [w.lower() for w in _SPLIT_NAME.split(name) if w]
    if not words:
        return None
    last = words[-1]
    if last in STRONG_WORDS:
        return "strong"
    if last in WEAK_WORDS:
        return "weak"
    joined = "".join(words)
    if last == "key" and len(words) > 1:
        qualifier = words[-2]
        if qualifier in KEY_QUALIFIERS:
            return "strong" if KEY_QUALIFIERS[qualifier] else "weak"
        return None
    for qualifier, strong in KEY_QUALIFIERS.items():
        if joined.endswith(qualifier + "key") and last.endswith(qualifier + "key"):
            return "strong" if strong else "weak"
    for word in ("password", "passwd", "passphrase", "token", "secret"):
        if last.endswith(word) and last != word and len(last) - len(word) <= 8:
            # camel-less compounds: dbpassword, accesstoken, clientsecret
            return "strong" if word != "token" else "weak"
    return None


def secret_value(value: str, strength: str | None) -> bool:
    """Whether ``value``, assigned to a name of ``strength``, is a secret to hide."""
    if strength is None or not value or _PLACEHOLDER.match(value):
        return False
    if strength == "strong":
        return True
    return looks_random(value)
