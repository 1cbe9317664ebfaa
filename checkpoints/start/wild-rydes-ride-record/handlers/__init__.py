# Makes handlers/ a regular package, so `handlers.put_ride_record` always means this service's code.
