"""What every request Struct's OpenAPI schema says beyond Litestar's: closed, and no NUL."""

from typing import TYPE_CHECKING

import msgspec
from litestar._openapi.schema_generation.plugins.struct import StructSchemaPlugin
from litestar.openapi.spec import OpenAPIType, Schema

from entrypoints.http.client_input import NUL

if TYPE_CHECKING:
    from litestar._openapi.schema_generation import SchemaCreator
    from litestar.typing import FieldDefinition


class ClosedStructSchemaPlugin(StructSchemaPlugin):
    """Litestar's Struct schema, plus ``additionalProperties: false`` for `forbid_unknown_fields`.

    Request bodies refuse unknown fields (a typo is a 422 naming it), and a document that
    left this out would promise that such a body is valid. The Struct's own config is the
    one statement; this reads it. A text property without a pattern also gets WITHOUT_NUL.
    """

    def to_openapi_schema(
        self, field_definition: "FieldDefinition", schema_creator: "SchemaCreator"
    ) -> Schema:
        """The schema Litestar makes, closed when the Struct is."""
        schema = super().to_openapi_schema(field_definition, schema_creator)
        struct = msgspec.inspect.type_info(field_definition.type_)
        if isinstance(struct, msgspec.inspect.StructType) and struct.forbid_unknown_fields:
            schema.additional_properties = False
        for value in (schema.properties or {}).values():
            if isinstance(value, Schema) and value.pattern is None and _is_text(value):
                value.pattern = WITHOUT_NUL
        return schema


WITHOUT_NUL = f"^[^\\u{ord(NUL):04x}]*$"
"""`client_input` refuses NUL in any text (422); a text field with no pattern of its own says so."""


def _is_text(schema: Schema) -> bool:
    if schema.type == OpenAPIType.STRING:
        return True
    return any(
        isinstance(arm, Schema) and arm.type == OpenAPIType.STRING for arm in schema.one_of or ()
    )
