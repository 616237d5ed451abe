"""OpenJPKI: an open implementation of 公的個人認証サービス (JPKI).

Parts (see ARCHITECTURE): ``rules`` (the guidance as pure functions), ``pki`` (the two
authorities), ``card`` (the virtual My Number Card and the holder client), ``store``
(persistence), ``services`` (procedures), ``web`` (HTTP), ``cli`` (the command line).
"""

__version__ = "0.1.0"
