"""RequestRide gives the rider a unicorn and has the ride recorded."""
import json
import os
from unittest import mock


class FakeAnswer:
    """Stands in for ride-record's HTTP answer, so no request leaves this machine."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def read(self):
        return b"{}"


def test_request_returns_a_ride(handler_module, ride_request):
    with mock.patch("urllib.request.urlopen", return_value=FakeAnswer()):
        response = handler_module.handler(ride_request, None)

    assert response["statusCode"] == 201
    ride = json.loads(response["body"])
    assert ride["Unicorn"] in handler_module.FLEET
    assert ride["PickupLocation"] == {"Latitude": 47.6062, "Longitude": -122.3321}
    assert ride["RideId"] and ride["RequestTime"]


def test_request_posts_the_ride_to_ride_record(handler_module, ride_request):
    with mock.patch("urllib.request.urlopen", return_value=FakeAnswer()) as urlopen:
        response = handler_module.handler(ride_request, None)

    urlopen.assert_called_once()
    post = urlopen.call_args.args[0]
    assert (post.get_method(), post.full_url) == ("POST", os.environ["RIDE_RECORD_URL"])
    assert json.loads(post.data) == json.loads(response["body"])


def test_a_body_that_is_not_json_is_refused(handler_module):
    with mock.patch("urllib.request.urlopen") as urlopen:
        response = handler_module.handler({"body": "not json"}, None)

    assert response["statusCode"] == 400
    urlopen.assert_not_called()
