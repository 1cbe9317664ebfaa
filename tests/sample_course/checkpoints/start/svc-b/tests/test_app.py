from app import handler


def test_handler():
    assert handler({}, None)["statusCode"] == 201
