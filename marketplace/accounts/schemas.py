"""Account, login and API key schemas. None accepts `role`, `status` or any other privileged field."""
from marshmallow import Schema, fields, validate

from marketplace.pagination import page_schema


class RegistrationIn(Schema):
    email = fields.Email(required=True, validate=validate.Length(max=254))
    password = fields.String(required=True, load_only=True, validate=validate.Length(min=10, max=256))
    display_name = fields.String(load_default="", validate=validate.Length(max=100))


class AccountOut(Schema):
    id = fields.Integer()
    email = fields.String()
    role = fields.String()
    status = fields.String()
    display_name = fields.String()
    created_at = fields.DateTime()


class LoginIn(Schema):
    email = fields.String(required=True)
    password = fields.String(required=True, load_only=True)


class TokenOut(Schema):
    id = fields.Integer()
    token = fields.String(metadata={"description": "shown once"})
    token_type = fields.Constant("bearer")
    expires_at = fields.DateTime()


class ApiKeyIn(Schema):
    name = fields.String(load_default="", validate=validate.Length(max=100))


class ApiKeyOut(Schema):
    id = fields.Integer()
    name = fields.String()
    prefix = fields.String()
    created_at = fields.DateTime()
    revoked_at = fields.DateTime(allow_none=True)


class NewApiKeyOut(ApiKeyOut):
    key = fields.String(metadata={"description": "the full key; shown once, stored only as a hash"})


ApiKeyListOut = page_schema(ApiKeyOut, "ApiKeyListOut")
