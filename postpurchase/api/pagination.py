"""Cursor pagination: stable under inserts, opaque ``next``/``previous`` links."""

from __future__ import annotations

from rest_framework import serializers
from rest_framework.pagination import CursorPagination


class ApiCursorPagination(CursorPagination):
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 200
    ordering = "-id"  # newest first; ``?ordering=`` picks another stable key

    def get_page_size(self, request) -> int:
        """``?limit=``, when sent, must be a whole number from 1 to ``max_page_size``: a value
        we cannot honour is refused (400 naming ``limit``), never silently replaced."""
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        digits = raw.isascii() and raw.isdigit() and len(raw) <= 6
        if not digits or not 1 <= int(raw) <= self.max_page_size:
            raise serializers.ValidationError(
                {
                    self.page_size_query_param: [
                        f"must be a whole number from 1 to {self.max_page_size}"
                    ]
                }
            )
        return int(raw)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": self.max_page_size,
                    "default": self.page_size,
                }
        return parameters
