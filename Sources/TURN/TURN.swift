// The TURN allocation core (RFC 8656) goes here.
