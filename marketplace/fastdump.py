"""A marshmallow Schema whose dump() runs a plan compiled once per instance: for the hot endpoints' replies.

marshmallow's dump goes through several generic layers per field (serialize, get_value with its
dotted-path and mapping-or-object tests, the error store); for a lease or an answer that is about 4%
of the request's CPU. `CompiledDump` reads each attribute with one getattr (or one dict lookup) and
hands the value to the field's own `_serialize`, so every field formats exactly as marshmallow would.
Whatever the plan does not cover (pre/post-dump hooks, dotted attributes, custom getters) goes through
Schema.dump. tests/test_fastdump.py compares both on the schemas that use it.
"""
from marshmallow import Schema, fields, missing


class CompiledDump(Schema):
    """Schema.dump, compiled: same output for plain objects, mappings, named tuples and dataclasses."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._dump_plan = self._compile()

    def dump(self, obj, *, many=None):
        many = self.many if many is None else bool(many)
        plan = self._dump_plan
        if plan is False or obj is None:
            return super().dump(obj, many=many)
        if many:
            return [self._dump_one(plan, item) for item in obj]
        return self._dump_one(plan, obj)

    @staticmethod
    def _dump_one(plan, obj) -> dict:
        mapping = isinstance(obj, dict)
        out = {}
        for key, name, attribute, field, reads in plan:
            if reads:
                value = obj.get(attribute, missing) if mapping else getattr(obj, attribute, missing)
                if value is missing:
                    value = field.dump_default() if callable(field.dump_default) else field.dump_default
                    if value is missing:
                        continue
            else:
                value = None
            value = field._serialize(value, name, obj)
            if value is not missing:
                out[key] = value
        return out

    def _compile(self):
        """(key, name, attribute, field, reads the attribute) per dump field; False when the plan cannot apply."""
        hooks = self._hooks
        if hooks.get("pre_dump") or hooks.get("post_dump") or type(self).get_attribute is not Schema.get_attribute:
            return False
        plan = []
        for name, field in self.dump_fields.items():
            attribute = field.attribute or name
            if "." in attribute or type(field).get_value is not fields.Field.get_value:
                return False
            key = field.data_key if field.data_key is not None else name
            plan.append((key, name, attribute, field, field._CHECK_ATTRIBUTE))
        return tuple(plan)
