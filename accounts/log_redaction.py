"""The log filter: personal data and secrets never reach a log line.

``RedactLogRecord`` is set on every handler in ``settings.LOGGING`` (Celery
workers use the same configuration, see ``cdp_site.celery``). It masks the
message, its arguments and the exception text (the whole traceback, chained
exceptions included, e.g. a database error quoting a JSON payload):

* emails and E.164 phone numbers anywhere (``accounts.masking.redact_text``,
  the same masking the back office shows Viewers), and any value under a key
  that names a phone number, however it is written (``"phone": "(415)
  555-0123"``);
* secrets: write keys, API keys, sign-in tokens and webhook signing secrets by
  their prefixes (``wk_``, ``tk_``, ``tok_``, ``whsec_``), the credentials of
  ``Authorization`` headers (``Basic``/``Bearer``/``Token``), and any value
  under ``writeKey``, ``password`` or ``secret``.
"""

from __future__ import annotations

import logging
import re

from accounts.masking import MASK, redact_text

_PREFIXED_SECRET = re.compile(r"\b(wk|tk|tok|whsec)_[A-Za-z0-9_\-]{6,}")
# a credential: 16+ token characters, one of them a digit (not an English word)
_AUTHORIZATION = re.compile(
    r"(?i)\b(basic|bearer|token)(\s+)(?=[A-Za-z0-9+/=._~\-]*\d)[A-Za-z0-9+/=._~\-]{16,}"
)
_KEY = r"""write_?key|password|passwd|secret|phone(?:_?number)?|mobile(?:_?phone)?|tel"""
_KEYED_VALUE = re.compile(
    rf"""(?ix)
    (?P<key>["']?\b(?:{_KEY})\b["']?\s*[:=]\s*)
    (?P<value>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[^\s,;&}}\]]+(?:\s+[\d()+.\-]+)*)
    """
)


def _mask_keyed(match: re.Match) -> str:
    value = match.group("value")
    quote = value[0] if value[0] in "\"'" else ""
    return f"{match.group('key')}{quote}{MASK}{quote}"


def redact_log_text(text: str) -> str:
    """``text`` with emails, phone numbers and secrets masked."""
    text = _KEYED_VALUE.sub(_mask_keyed, text)
    text = _PREFIXED_SECRET.sub(lambda m: f"{m.group(1)}_{MASK}", text)
    text = _AUTHORIZATION.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
    return redact_text(text)


class RedactLogRecord(logging.Filter):
    """Mask the record in place, before any handler formats it."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_log_text(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and record.exc_info[0] is not None:
            # Formatted once here, masked, and the live exception dropped, so no
            # handler (ours or one added later) prints the clear text.
            record.exc_text = record.exc_text or self._formatter.formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = redact_log_text(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_log_text(record.stack_info)
        return True
