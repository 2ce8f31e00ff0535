package notify

import (
	"errors"
	"fmt"
	"strings"
	"text/template"
	"time"

	"github.com/order-tracking/platform/pkg/events"
)

// The original system's texts, kept so that customers see the same words.
const (
	// DefaultCreatedTemplate is the email sent when an order is placed.
	DefaultCreatedTemplate = "Hi {{.CustomerName}}, your order for {{.Item}} has been received."
	// DefaultUpdatedTemplate is the SMS sent when an order's status changes.
	DefaultUpdatedTemplate = "Order {{.OrderID}} status changed to {{.Status}}"
)

// Config holds the message templates, in Go text/template syntax over the
// fields of TemplateData.
type Config struct {
	// CreatedTemplate renders the email for OrderCreatedEvent.
	CreatedTemplate string `env:"NOTIFY_CREATED_TEMPLATE"`
	// UpdatedTemplate renders the SMS for OrderUpdatedEvent.
	UpdatedTemplate string `env:"NOTIFY_UPDATED_TEMPLATE"`
}

// SetDefaults fills the templates left empty with the defaults above.
func (c *Config) SetDefaults() {
	if c.CreatedTemplate == "" {
		c.CreatedTemplate = DefaultCreatedTemplate
	}
	if c.UpdatedTemplate == "" {
		c.UpdatedTemplate = DefaultUpdatedTemplate
	}
}

// Validate reports every template that does not parse, or does not render a
// sample event: a typo such as {{.Customer}} only fails at execution, and
// it must fail at start, not on the first real event.
func (c Config) Validate() error {
	_, err := NewTemplates(c)
	return err
}

// TemplateData is what a template can refer to.
type TemplateData struct {
	EventID        string
	OrderID        int64
	CustomerName   string
	Item           string
	Quantity       int
	Status         string
	PreviousStatus string
}

// Templates renders the text of each kind of notification.
type Templates struct {
	created *template.Template
	updated *template.Template
}

// sampleEvent is what templates are tried on at start.
var sampleEvent = events.Event{
	ID:             "00000000-0000-4000-8000-000000000000",
	OrderID:        1,
	Order:          events.Order{ID: 1, CustomerName: "Alice", Item: "Laptop", Quantity: 1, Status: "SHIPPED", CreatedAt: time.Unix(0, 0).UTC()},
	PreviousStatus: "CONFIRMED",
}

// NewTemplates parses both templates of cfg and renders each on a sample
// event. The error names the variable of every template that fails.
func NewTemplates(cfg Config) (*Templates, error) {
	var errs []error
	parse := func(name, text string) *template.Template {
		t, err := template.New(name).Option("missingkey=error").Parse(text)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s does not parse: %w", name, err))
			return nil
		}
		out, err := render(t, sampleEvent)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("%s does not render: %w", name, err))
		case strings.TrimSpace(out) == "":
			errs = append(errs, fmt.Errorf("%s renders an empty text", name))
		}
		return t
	}
	t := &Templates{
		created: parse("NOTIFY_CREATED_TEMPLATE", cfg.CreatedTemplate),
		updated: parse("NOTIFY_UPDATED_TEMPLATE", cfg.UpdatedTemplate),
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("invalid notification templates: %w", err)
	}
	return t, nil
}

// Created renders the order-placed text for e.
func (t *Templates) Created(e events.Event) (string, error) { return render(t.created, e) }

// Updated renders the status-changed text for e.
func (t *Templates) Updated(e events.Event) (string, error) { return render(t.updated, e) }

func render(t *template.Template, e events.Event) (string, error) {
	var b strings.Builder
	err := t.Execute(&b, TemplateData{
		EventID:        e.ID,
		OrderID:        e.OrderID,
		CustomerName:   e.Order.CustomerName,
		Item:           e.Order.Item,
		Quantity:       e.Order.Quantity,
		Status:         e.Order.Status,
		PreviousStatus: e.PreviousStatus,
	})
	return b.String(), err
}
