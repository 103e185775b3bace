"""signpipe's Qt widgets."""
