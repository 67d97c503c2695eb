package webui

import "net/http"

// moreRoutes registers the pages beyond applications.
func (u *UI) moreRoutes(m *http.ServeMux) {
	u.imageRoutes(m)    // images.go: add image, image detail, policy, images list, delete
	u.settingsRoutes(m) // settings.go: tasks, settings, certificates, audit, explain
}
