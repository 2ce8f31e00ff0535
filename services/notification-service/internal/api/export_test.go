package api

// OpenAPIDocument lets the package's external tests (api_test) check answers
// against the embedded document.
var OpenAPIDocument = openAPIDocument
