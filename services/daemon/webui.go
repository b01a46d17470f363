package daemon

import (
	"net/http"
	"strings"

	"github.com/multimeter-fw/multimeter/webui"
)

// withUI serves /API and everything below it from the API's route table
// and every other path from the browser UI.
func withUI(apiHandler http.Handler) (http.Handler, error) {
	ui, err := webui.New(webui.Config{})
	if err != nil {
		return nil, err
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.Path; p == "/API" || strings.HasPrefix(p, "/API/") {
			apiHandler.ServeHTTP(w, r)
			return
		}
		ui.ServeHTTP(w, r)
	}), nil
}
