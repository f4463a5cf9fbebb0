"""The API's JSON parser: DRF's (which already refuses NaN and Infinity), also refusing strings
that are not valid Unicode text (lone UTF-16 surrogates such as "\\ud800"), which no database
column can hold, and bodies nested deeper than Python's parser can follow (100,000 ``[``), which
it reports as a ``RecursionError`` rather than a ``ValueError``."""

from __future__ import annotations

import io
import json
import re

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


class StrictJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        raw = stream.read() if stream is not None else b""
        try:
            data = super().parse(io.BytesIO(raw), media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - the body is nested too deeply.") from None
        # Fast path: only a body with a surrogate escape can hold a lone surrogate.
        if SURROGATE_ESCAPE.search(raw):
            try:
                json.dumps(data, ensure_ascii=False).encode("utf-8")
            except UnicodeEncodeError:
                raise ParseError(
                    "JSON parse error - the body holds an unpaired UTF-16 surrogate escape."
                ) from None
        return data
