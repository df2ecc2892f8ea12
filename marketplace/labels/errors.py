"""The error a label type raises; routes turn it into a 422 naming the field."""


class LabelError(ValueError):
    """An invalid label schema or answer; `path` names the failing field inside it."""

    def __init__(self, message: str, *path: str):
        super().__init__(message)
        self.message = message
        self.path = path
