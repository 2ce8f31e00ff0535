// Package swaggerui serves Swagger UI, the API explorer the original system
// had at /api-docs, from files embedded in the binary: the npm package
// swagger-ui-dist at the version in dist/VERSION, vendored by
// hack/swagger-ui.sh (which checks the package's integrity and records each
// file's SHA-256 in dist/SHA256SUMS), and an initializer of our own, since
// the package's inline one would need the Content-Security-Policy opened.
package swaggerui

import (
	"embed"
	"mime"
	"net/http"
	"path"
	"strings"

	"github.com/gin-gonic/gin"
)

//go:embed dist/swagger-ui-bundle.js dist/swagger-ui.css dist/favicon-32x32.png dist/VERSION init.js
var files embed.FS

// Version is the vendored swagger-ui-dist's version; it names the assets'
// path, so that a new version is never served from an old cache.
var Version = strings.TrimSpace(mustRead("dist/VERSION"))

func mustRead(name string) string {
	b, err := files.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// CSP lets the UI load its own script and styles and call the service's own
// API, nothing else. Swagger UI sets styles through the DOM (allowed) and
// draws some icons as data: images.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Page returns the UI's HTML page for the document at docURL, a path
// relative to the page (so that the UI works behind a path prefix and
// through kubectl port-forward); assets is where Asset is served, also
// relative to the page, with Version as its first segment.
func Page(docURL, assets string) []byte {
	a := assets + "/" + Version + "/"
	return []byte(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>API docs</title>
<link rel="stylesheet" href="` + a + `swagger-ui.css">
<link rel="icon" type="image/png" href="` + a + `favicon-32x32.png">
</head>
<body>
<div id="swagger-ui" data-url="` + docURL + `"></div>
<script src="` + a + `swagger-ui-bundle.js"></script>
<script src="` + a + `init.js"></script>
</body>
</html>
`)
}

// Asset serves the asset named by the path parameters version and file:
// cached for good, as its path changes with the version. Another version
// or an unknown file is a 404.
func Asset(c *gin.Context) {
	file := c.Param("file")
	body, err := files.ReadFile(assetPath(file))
	if c.Param("version") != Version || err != nil || file == "VERSION" {
		c.Header("Cache-Control", "no-store")
		c.Data(http.StatusNotFound, "text/plain; charset=utf-8", []byte("not found"))
		return
	}
	c.Header("Cache-Control", "public, max-age=31536000, immutable")
	c.Header("X-Content-Type-Options", "nosniff")
	c.Data(http.StatusOK, mime.TypeByExtension(path.Ext(file)), body)
}

func assetPath(file string) string {
	if file == "init.js" {
		return file
	}
	return "dist/" + file
}
