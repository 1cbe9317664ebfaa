from handlers.record import handler


def test_handler_returns_201():
    assert handler({"ride": {"id": "r1"}}, None)["statusCode"] == 201
