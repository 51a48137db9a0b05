"""Development-only tools, not installed with tinyvae: the gallery that regenerates docs/img/
(``python -m tools.gallery``) and the headless Chromium the explorer's tests and screenshots use."""
