"""Example notebooks (``chat.ipynb``) and the small run they start (:mod:`.chat_run`)."""
