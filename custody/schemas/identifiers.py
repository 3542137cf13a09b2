from marshmallow import Schema, fields, validate


class ScanIn(Schema):
    data = fields.String(required=True, validate=validate.Length(min=1, max=500))


class StructuresOut(Schema):
    items = fields.List(fields.Dict())


class DinCheckOut(Schema):
    din = fields.String()
    check_character = fields.String()
    flags = fields.String()


class DinIssueIn(Schema):
    year = fields.Integer(validate=validate.Range(min=0, max=99))
