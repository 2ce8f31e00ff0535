// Package page is the customer's tracking page, GET /t/{trackingCode}: the
// order's item, a progress bar over its statuses and its timeline, rendered
// on the server so that it shows the current state without JavaScript, and
// kept live by a small script over the order's event stream
// (/track/{code}/events). It never shows who placed the order: the code is
// a link customers forward, and a page behind it may be seen by anyone.
package page

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/order-tracking/platform/pkg/httpapi"
	"github.com/order-tracking/platform/services/tracking-service/internal/tracking"
)

// Paths of the page and its assets.
const (
	Path      = "/t/:trackingCode"
	AssetPath = "/t/assets/:file"
)

// Reader is what the page reads: tracking.Service.
type Reader interface {
	ByCode(ctx context.Context, code string) (int64, error)
	Get(ctx context.Context, id int64) (tracking.Order, error)
	History(ctx context.Context, id int64) ([]tracking.StatusChange, error)
}

// csp allows the page its own scripts, styles and stream and nothing else:
// no inline script or style, no other origin, no framing.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

//go:embed assets/* page.html.tmpl
var files embed.FS

var tmpl = template.Must(template.New("page.html.tmpl").Funcs(template.FuncMap{
	"label": Label,
	"iso":   func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"human": func(t time.Time) string { return t.UTC().Format("2 Jan 2006, 15:04 UTC") },
}).ParseFS(files, "page.html.tmpl"))

// asset is an embedded file served under a name carrying its content's
// hash, so that it can be cached for good and a new build is fetched anew.
type asset struct {
	name, contentType string
	body              []byte
}

// assets are the embedded assets by hashed name, and names maps each
// file's own name to its hashed one for the template.
var assets, names = loadAssets()

func loadAssets() (map[string]asset, map[string]string) {
	byHashed, hashed := map[string]asset{}, map[string]string{}
	entries, err := fs.ReadDir(files, "assets")
	if err != nil {
		panic(err)
	}
	for _, e := range entries {
		body, err := files.ReadFile("assets/" + e.Name())
		if err != nil {
			panic(err)
		}
		sum := sha256.Sum256(body)
		ext := path.Ext(e.Name())
		h := strings.TrimSuffix(e.Name(), ext) + "." + hex.EncodeToString(sum[:])[:12] + ext
		byHashed[h] = asset{name: h, contentType: mime.TypeByExtension(ext), body: body}
		hashed[e.Name()] = h
	}
	return byHashed, hashed
}

// Register adds the page and its assets onto r, behind guards (the same
// identification and rate limit as the tracking API: the code is the
// credential, and guessing codes costs like any other request).
func Register(r gin.IRouter, log *slog.Logger, svc Reader, guards ...gin.HandlerFunc) {
	r.GET(AssetPath, serveAsset)
	r.GET(Path, append(guards, handlePage(log, svc))...)
}

func serveAsset(c *gin.Context) {
	a, ok := assets[c.Param("file")]
	if !ok {
		c.Header("Cache-Control", "no-store")
		c.Data(http.StatusNotFound, "text/plain; charset=utf-8", []byte("not found"))
		return
	}
	c.Header("Cache-Control", "public, max-age=31536000, immutable")
	c.Header("X-Content-Type-Options", "nosniff")
	c.Data(http.StatusOK, a.contentType, a.body)
}

// view is what the template renders.
type view struct {
	// Title and Message are set for an error page instead of an order.
	Title, Message string
	Code           string
	Order          tracking.Order
	Steps          []step
	Cancelled      bool
	Timeline       []tracking.StatusChange
	CSS, JS, Icon  string
}

// step is one status of the progress bar.
type step struct {
	Status string
	// State is "done", "current" or "todo".
	State string
}

func handlePage(log *slog.Logger, svc Reader) gin.HandlerFunc {
	return func(c *gin.Context) {
		code := c.Param("trackingCode")
		v, err := load(c.Request.Context(), svc, code)
		status := http.StatusOK
		switch {
		case errors.Is(err, tracking.ErrNotFound):
			status = http.StatusNotFound
			v = view{Title: "We can't find this order",
				Message: "Check that the link is the one you were sent: tracking links are long, and a character may be missing."}
		case err != nil:
			status = http.StatusServiceUnavailable
			log.ErrorContext(c.Request.Context(), "cannot render the tracking page", "err", err)
			c.Header("Retry-After", httpapi.RetryAfter(httpapi.DefaultRetryAfter).Get("Retry-After"))
			v = view{Title: "Tracking is unavailable right now",
				Message: "Your order is safe: we just cannot show it at the moment. Please try again in a minute."}
		}
		v.CSS, v.JS, v.Icon = names["page.css"], names["page.js"], names["favicon.svg"]
		var buf bytes.Buffer
		if err := tmpl.Execute(&buf, v); err != nil {
			log.ErrorContext(c.Request.Context(), "cannot render the tracking page", "err", err)
			c.Data(http.StatusInternalServerError, "text/plain; charset=utf-8", []byte("Internal Server Error"))
			return
		}
		h := c.Writer.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		// The code is in the URL: never hand it to another site.
		h.Set("Referrer-Policy", "no-referrer")
		c.Data(status, "text/html; charset=utf-8", buf.Bytes())
	}
}

// load reads what the page shows of the order whose code is code.
func load(ctx context.Context, svc Reader, code string) (view, error) {
	id, err := svc.ByCode(ctx, code)
	if err != nil {
		return view{}, err
	}
	o, err := svc.Get(ctx, id)
	if err != nil {
		return view{}, fmt.Errorf("cannot read order %d: %w", id, err)
	}
	h, err := svc.History(ctx, id)
	if err != nil {
		return view{}, fmt.Errorf("cannot read the history of order %d: %w", id, err)
	}
	// Newest first: what a customer looks for is what happened last.
	slices.Reverse(h)
	steps, cancelled := Progress(o.Status)
	return view{Code: code, Order: o, Steps: steps, Cancelled: cancelled, Timeline: h}, nil
}

// Statuses is the way an order goes, in order; CANCELLED leaves it.
var Statuses = []string{"PENDING", "CONFIRMED", "SHIPPED", "OUT_FOR_DELIVERY", "DELIVERED"}

// Cancelled is the status that ends an order off the way.
const Cancelled = "CANCELLED"

// Progress is the progress bar for status: the steps up to it done, it
// current, the rest to do. A cancelled order, or one in a status this
// build does not know, shows no step reached.
func Progress(status string) ([]step, bool) {
	steps := make([]step, len(Statuses))
	at := -1
	for i, s := range Statuses {
		if s == status {
			at = i
		}
	}
	for i, s := range Statuses {
		steps[i] = step{Status: s, State: "todo"}
		switch {
		case i < at:
			steps[i].State = "done"
		case i == at:
			steps[i].State = "current"
		}
	}
	return steps, status == Cancelled
}

// labels are the statuses in the customer's words.
var labels = map[string]string{
	"PENDING": "Order placed", "CONFIRMED": "Confirmed", "SHIPPED": "Shipped",
	"OUT_FOR_DELIVERY": "Out for delivery", "DELIVERED": "Delivered", "CANCELLED": "Cancelled",
}

// Label is status in the customer's words; a status this build does not
// know shows as it is.
func Label(status string) string {
	if l, ok := labels[status]; ok {
		return l
	}
	return status
}
