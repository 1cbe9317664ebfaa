# Makes handlers/ a regular package, so `handlers.request_ride` always means this service's code.
