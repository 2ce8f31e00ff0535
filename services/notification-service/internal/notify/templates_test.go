package notify_test

import (
	"strings"
	"testing"
	"time"

	"github.com/order-tracking/platform/pkg/config"
	"github.com/order-tracking/platform/pkg/events"
	"github.com/order-tracking/platform/services/notification-service/internal/notify"
)

func TestTemplatesValidation(t *testing.T) {
	tests := []struct {
		name    string
		cfg     notify.Config
		wantErr []string // substrings of the error; none means valid
	}{
		{"defaults", notify.Config{CreatedTemplate: notify.DefaultCreatedTemplate, UpdatedTemplate: notify.DefaultUpdatedTemplate}, nil},
		{"every field", notify.Config{
			CreatedTemplate: "{{.EventID}} {{.OrderID}} {{.CustomerName}} {{.Item}} {{.Quantity}} {{.Status}}",
			UpdatedTemplate: "{{.OrderID}}: {{.PreviousStatus}} -> {{.Status}}",
		}, nil},
		{"created does not parse", notify.Config{CreatedTemplate: "Hi {{.CustomerName", UpdatedTemplate: notify.DefaultUpdatedTemplate},
			[]string{"NOTIFY_CREATED_TEMPLATE does not parse"}},
		{"updated names an unknown field", notify.Config{CreatedTemplate: notify.DefaultCreatedTemplate, UpdatedTemplate: "Order {{.OrderId}}"},
			[]string{"NOTIFY_UPDATED_TEMPLATE does not render"}},
		{"unknown function", notify.Config{CreatedTemplate: "{{upper .Item}}", UpdatedTemplate: notify.DefaultUpdatedTemplate},
			[]string{"NOTIFY_CREATED_TEMPLATE does not parse"}},
		{"empty", notify.Config{CreatedTemplate: "", UpdatedTemplate: notify.DefaultUpdatedTemplate},
			[]string{"NOTIFY_CREATED_TEMPLATE renders an empty text"}},
		{"blank after rendering", notify.Config{CreatedTemplate: notify.DefaultCreatedTemplate, UpdatedTemplate: "{{if false}}x{{end}}  "},
			[]string{"NOTIFY_UPDATED_TEMPLATE renders an empty text"}},
		{"both bad, both reported", notify.Config{CreatedTemplate: "{{", UpdatedTemplate: "{{.Nope}}"},
			[]string{"NOTIFY_CREATED_TEMPLATE does not parse", "NOTIFY_UPDATED_TEMPLATE does not render"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("got error %v, want none", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("got no error, want one mentioning %q", tt.wantErr)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("got error %q, want it to mention %q", err, want)
				}
			}
		})
	}
}

// TestTemplatesDefaultsAreTheOriginalTexts checks the env defaults, which
// repeat the constants because struct tags cannot refer to them.
func TestTemplatesDefaultsAreTheOriginalTexts(t *testing.T) {
	cfg, err := config.Load[notify.Config]()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.CreatedTemplate != notify.DefaultCreatedTemplate || cfg.UpdatedTemplate != notify.DefaultUpdatedTemplate {
		t.Fatalf("got defaults %q and %q, want %q and %q",
			cfg.CreatedTemplate, cfg.UpdatedTemplate, notify.DefaultCreatedTemplate, notify.DefaultUpdatedTemplate)
	}
	tpl, err := notify.NewTemplates(cfg)
	if err != nil {
		t.Fatal(err)
	}
	o := events.Order{ID: 7, CustomerName: "Alice", Item: "Laptop", Quantity: 1, Status: "PENDING"}
	created, _ := tpl.Created(events.NewOrderCreated(o, 1, time.Now()))
	o.Status = "SHIPPED"
	updated, _ := tpl.Updated(events.NewOrderUpdated(o, "PENDING", 2, time.Now()))
	if want := "Hi Alice, your order for Laptop has been received."; created != want {
		t.Errorf("got created text %q, want %q", created, want)
	}
	if want := "Order 7 status changed to SHIPPED"; updated != want {
		t.Errorf("got updated text %q, want %q", updated, want)
	}
}
