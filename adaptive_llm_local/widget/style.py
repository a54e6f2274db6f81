"""The chat's style sheet: JupyterLab's theme variables, so light and dark themes both read well.

Every colour is a ``var(--jp-...)`` with a fallback for front ends without JupyterLab's
variables; code tokens take the editor's own token colours
(``--jp-mirror-editor-*-color``), so highlighted code looks like code in a cell. Nothing
is loaded from elsewhere: no fonts, no icons.
"""

from __future__ import annotations

_TOKENS = {
    # Pygments short class names -> (JupyterLab editor variable, fallback, extra)
    "k kc kd kn kp kr kt": ("keyword", "#008000", "font-weight: bold;"),
    "s s1 s2 sa sb sc sd se sh si sr ss sx dl": ("string", "#ba2121", ""),
    "c c1 ch cm cp cpf cs": ("comment", "#408080", "font-style: italic;"),
    "m mb mf mh mi mo il": ("number", "#080", ""),
    "o ow": ("operator", "#aa22ff", ""),
    "nb bp": ("builtin", "#008000", ""),
    "nf fm nc nn nd ne": ("def", "#0000ff", ""),
    "nv vc vg vi": ("variable-2", "#05a", ""),
    "err gr": ("error", "#f00", ""),
    "gh gu gp": ("meta", "#aa22ff", "font-weight: bold;"),
}


def _token_rules() -> str:
    rules = []
    for names, (var, fallback, extra) in _TOKENS.items():
        selector = ", ".join(f".alm-hl .{n}" for n in names.split())
        rules.append(
            f"{selector} {{ color: var(--jp-mirror-editor-{var}-color, {fallback}); {extra} }}"
        )
    return "\n".join(rules)


CSS = (
    """
.alm-chat { color: var(--jp-content-font-color1, inherit);
  font-family: var(--jp-ui-font-family, system-ui, sans-serif);
  font-size: var(--jp-content-font-size1, 14px); }
.alm-chat .alm-thread { max-height: 560px; overflow-y: auto; padding: 4px;
  flex-direction: column-reverse !important; }
.alm-msg { border: 1px solid var(--jp-border-color2, #d0d0d0); border-radius: 10px;
  padding: 6px 10px; margin: 4px 0; line-height: 1.45; max-width: 95%;
  overflow-wrap: anywhere; color: var(--jp-content-font-color1, inherit);
  background: var(--jp-layout-color2, #f3f3f3); }
.alm-msg p { margin: 0.3em 0; }
.alm-msg .alm-meta { font-size: 85%; color: var(--jp-content-font-color2, #666); }
.alm-user { margin-left: auto; background: #d9e8fb;
  background: color-mix(in srgb, var(--jp-brand-color1, #1976d2) 18%, var(--jp-layout-color1, #fff)); }
.alm-assistant { margin-right: auto; }
.alm-tool { background: var(--jp-layout-color1, #fff); border-style: dashed; font-size: 92%; }
.alm-diagnosis { border-left: 4px solid var(--jp-brand-color1, #1976d2); }
.alm-error { background: #fdecea;
  background: color-mix(in srgb, var(--jp-error-color1, #d32f2f) 15%, var(--jp-layout-color1, #fff)); }
.alm-approval { border: 2px solid var(--jp-warn-color1, #f57c00); }
.alm-applied { color: var(--jp-success-color1, #388e3c); font-weight: bold; }
.alm-denied { color: var(--jp-error-color1, #d32f2f); font-weight: bold; }
.alm-hl { background: var(--jp-cell-editor-background, var(--jp-layout-color2, #f5f5f5));
  color: var(--jp-content-font-color1, inherit); border: 1px solid var(--jp-border-color2, #ddd);
  border-radius: 4px; padding: 6px 8px; overflow-x: auto; white-space: pre;
  font-family: var(--jp-code-font-family, monospace); font-size: var(--jp-code-font-size, 13px);
  line-height: 1.35; margin: 4px 0; }
.alm-hl code { background: none; padding: 0; font-family: inherit; }
.alm-msg code { font-family: var(--jp-code-font-family, monospace); }
.alm-diff .gi { color: var(--jp-success-color1, #1b7f2a);
  background: color-mix(in srgb, var(--jp-success-color1, #388e3c) 14%, transparent); }
.alm-diff .gd { color: var(--jp-error-color1, #c62828);
  background: color-mix(in srgb, var(--jp-error-color1, #d32f2f) 14%, transparent); }
.alm-s-model { border-bottom: 2px dotted var(--jp-warn-color1, #f57c00); }
.alm-origin { color: var(--jp-warn-color1, #f57c00); font-size: 75%; font-weight: bold;
  margin-left: 2px; cursor: help; }
.alm-sources { font-size: 88%; margin-top: 4px; }
.alm-sources details { display: inline-block; margin-right: 8px; vertical-align: top; }
.alm-sources details[open] { display: block; }
.alm-sources summary { cursor: pointer; color: var(--jp-content-link-color, #1976d2); }
.alm-busy { color: var(--jp-brand-color1, #1976d2); font-weight: bold;
  animation: alm-pulse 1.2s ease-in-out infinite; }
@keyframes alm-pulse { 50% { opacity: 0.35; } }
.alm-yolo-on { background: var(--jp-error-color1, #d32f2f); color: #fff; font-weight: bold;
  padding: 4px 8px; border-radius: 4px; letter-spacing: 0.02em; }
"""
    + _token_rules()
    + "\n"
)


def style_tag() -> str:
    """The ``<style>`` element the chat puts on the page once per widget."""
    return f"<style>{CSS}</style>"
