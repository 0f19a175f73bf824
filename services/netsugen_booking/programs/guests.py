"""Guests' email addresses and names: the duplicate key and what an email may repeat.

**Normalized email** (the key of the duplicate check and of the per-email rate limit): one mailbox,
one key, whatever spelling reaches it:

- the whole address is lower-cased (and NFKC-normalized);
- a plus tag is removed from the local part (``hanako+event1@example.jp`` → ``hanako@example.jp``):
  Gmail, Outlook/Hotmail, iCloud, Fastmail, Yahoo! JAPAN-hosted and most company mail servers
  deliver tagged addresses to the untagged mailbox, and an address whose mailbox really contains a
  ``+`` is rare enough that treating it as tagged only means one registration per event for it;
- for ``gmail.com`` and ``googlemail.com`` (one provider, so the domain becomes ``gmail.com``) the dots
  of the local part are removed too, because Gmail ignores them (``ha.na.ko@`` = ``hanako@``). Other
  providers treat dots as significant, so they are kept.

The address the mail goes to stays the one the guest typed (lower-cased); only the key is normalized.

**Display name** (what the confirmation email repeats of the request): NFKC-normalized, control
characters and anything that looks like a URL, a host name or an email address removed, whitespace
collapsed, shortened to :data:`DISPLAY_NAME_MAX` characters. So nobody can make NETSUGEN mail a
link or a long message to a third party by typing it as a name.
"""

from __future__ import annotations

import re
import unicodedata

#: Providers whose local part ignores dots; the value is the canonical domain.
DOTLESS_DOMAINS = {"gmail.com": "gmail.com", "googlemail.com": "gmail.com"}
DISPLAY_NAME_MAX = 40

_URLISH = re.compile(
    r"""(?ix)
    [a-z][a-z0-9+.\-]*://\S*          # scheme://...
    | \bwww\.\S*                      # www.anything
    | \S*@\S+                         # addresses and user@host
    | [\w\-]+(?:\.[\w\-]+)*\.[a-z][a-z0-9\-]+\S*   # host names: label(.label)*.tld[/path]
    | \b(?:https?|ftp|mailto|javascript|data):\S*   # scheme without slashes
    """
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_WS = re.compile(r"\s+")


def normalize_email(email: str) -> str:
    """The duplicate key of an address (see the module docstring for the rules)."""
    address = unicodedata.normalize("NFKC", email).strip().lower()
    local, at, domain = address.rpartition("@")
    if not at:
        return address
    local = local.split("+", 1)[0]
    canonical = DOTLESS_DOMAINS.get(domain)
    if canonical is not None:
        local, domain = local.replace(".", ""), canonical
    return f"{local}@{domain}"


def display_name(name: str) -> str:
    """A name safe to repeat in an email to an address nobody has confirmed yet."""
    text = _CONTROL.sub(" ", unicodedata.normalize("NFKC", name))
    text = _URLISH.sub(" ", text)
    text = _WS.sub(" ", text).strip()
    if len(text) > DISPLAY_NAME_MAX:
        text = text[: DISPLAY_NAME_MAX - 1].rstrip() + "…"
    return text
