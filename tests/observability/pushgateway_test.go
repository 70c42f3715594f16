package observability

import (
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/threader/guard/internal/testenv"
)

// TestPushgatewaysOfDifferentTestsShareNothing: a group pushed to one test
// Pushgateway is gone from the next one. Debian's Pushgateway persists to
// /var/lib/prometheus/pushgateway.data by default, which made tests see
// (and alert on) each other's groups; testenv turns persistence off.
func TestPushgatewaysOfDifferentTestsShareNothing(t *testing.T) {
	group := fmt.Sprintf("leak_check_%d", os.Getpid())
	first := testenv.StartPushgateway(t)
	req, err := http.NewRequest(http.MethodPut, first.URL+"/metrics/job/"+group, strings.NewReader("leak_check 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("push: %s", resp.Status)
	}
	if !strings.Contains(first.Metrics(t), `job="`+group+`"`) {
		t.Fatalf("the push did not arrive:\n%s", first.Metrics(t))
	}
	first.Stop() // a persisting Pushgateway writes its file now

	second := testenv.StartPushgateway(t)
	if text := second.Metrics(t); strings.Contains(text, group) {
		t.Errorf("the next Pushgateway has the group the first one got:\n%s", text)
	}
}
