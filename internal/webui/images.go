package webui

import "net/http"

// imageRoutes registers the image pages.
func (u *UI) imageRoutes(m *http.ServeMux) {}
