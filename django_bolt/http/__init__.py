"""What a request and a response are: errors, the request, uploads, encoding, rendering."""
