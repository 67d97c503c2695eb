package httpapi

// routeTable is the API's routes with their access rows: the one policy
// table that decides who may call what. api/openapi.yaml lists the same
// routes (checked by a test).
func (a *API) routeTable() []route {
	return []route{
		// Operations.
		{"GET", "/healthz", openToAll, a.healthz},
		{"GET", "/readyz", openToAll, a.readyz},
		{"GET", "/metrics", openToAll, a.serveMetrics},
		{"GET", "/api/openapi.yaml", openToAll, a.openapi},
		{"GET", "/v1/version", openToAll, a.version},

		// Authentication.
		{"POST", "/v1/signup", openToAll, a.signup},
		{"POST", "/v1/sessions", openToAll, a.login},
		{"DELETE", "/v1/sessions/current", sessionUser, a.logout},
		{"GET", "/v1/me", signedIn, a.me},
		{"POST", "/v1/tokens", sessionUser, a.createToken},
		{"GET", "/v1/tokens", sessionUser, a.listTokens},
		{"DELETE", "/v1/tokens/{token_id}", signedIn, a.revokeToken},

		// Accounts and members.
		{"POST", "/v1/accounts", sessionUser, a.createAccount},
		{"GET", "/v1/accounts", signedIn, a.listAccounts},
		{"GET", "/v1/accounts/{account_id}", reader, a.getAccount},
		{"PATCH", "/v1/accounts/{account_id}", manager, a.updateAccount},
		{"DELETE", "/v1/accounts/{account_id}", manager, a.deleteAccount},
		{"GET", "/v1/accounts/{account_id}/members", reader, a.listMembers},
		{"POST", "/v1/accounts/{account_id}/members", manager, a.addMember},
		{"PATCH", "/v1/accounts/{account_id}/members/{user_id}", manager, a.setMemberRole},
		{"DELETE", "/v1/accounts/{account_id}/members/{user_id}", manager, a.removeMember},

		// Registries.
		{"GET", "/v1/accounts/{account_id}/registries", reader, a.listRegistries},
		{"POST", "/v1/accounts/{account_id}/registries", writer, a.createRegistry},
		{"GET", "/v1/accounts/{account_id}/registries/match", reader, a.matchRegistry},
		{"GET", "/v1/accounts/{account_id}/registries/{registry_id}", reader, a.getRegistry},
		{"PATCH", "/v1/accounts/{account_id}/registries/{registry_id}", writer, a.updateRegistry},
		{"DELETE", "/v1/accounts/{account_id}/registries/{registry_id}", writer, a.deleteRegistry},

		// Applications.
		{"GET", "/v1/accounts/{account_id}/apps", reader, a.listApps},
		{"POST", "/v1/accounts/{account_id}/apps", writer, a.createApp},
		{"GET", "/v1/accounts/{account_id}/apps/{app_id}", reader, a.getApp},
		{"PATCH", "/v1/accounts/{account_id}/apps/{app_id}", writer, a.updateApp},
		{"DELETE", "/v1/accounts/{account_id}/apps/{app_id}", writer, a.deleteApp},

		// Images.
		{"POST", "/v1/accounts/{account_id}/apps/{app_id}/images", writer, limited(imageBodyLimit, a.createImage)},
		{"GET", "/v1/accounts/{account_id}/apps/{app_id}/images", reader, a.listAppImages},
		{"GET", "/v1/accounts/{account_id}/images", reader, a.listImages},
		{"GET", "/v1/accounts/{account_id}/images/{image_id}", reader, a.getImage},
		{"DELETE", "/v1/accounts/{account_id}/images/{image_id}", writer, a.deleteImage},
		{"GET", "/v1/accounts/{account_id}/images/{image_id}/build", reader, a.imageBuild},
		{"GET", "/v1/accounts/{account_id}/images/{image_id}/policy", reader, a.imagePolicy},
		{"POST", "/v1/tools/sigstruct", signedIn, limited(toolBodyLimit, a.toolSigstruct)},
		{"POST", "/v1/tools/nitro-measurements", signedIn, limited(toolBodyLimit, a.toolNitroMeasurements)},

		// Approval tasks.
		{"GET", "/v1/accounts/{account_id}/tasks", reader, a.listTasks},
		{"GET", "/v1/accounts/{account_id}/tasks/{task_id}", reader, a.getTask},
		{"POST", "/v1/accounts/{account_id}/tasks/{task_id}/approve", writer, a.approveTask},
		{"POST", "/v1/accounts/{account_id}/tasks/{task_id}/deny", writer, a.denyTask},

		// Image selection, explained.
		{"POST", "/v1/accounts/{account_id}/attest/explain", reader, a.explain},

		// Attestation (workloads authenticate with evidence) and the CA.
		{"POST", "/v1/attest/challenge", openToAll, a.challenge},
		{"POST", "/v1/attest", openToAll, a.attestation},
		{"GET", "/v1/accounts/{account_id}/ca", openToAll, a.caCertificate},
		{"GET", "/v1/accounts/{account_id}/ca/crl", openToAll, a.caCRL},
		{"GET", "/v1/accounts/{account_id}/certificates", reader, a.listCertificates},
		{"GET", "/v1/accounts/{account_id}/certificates/{certificate_id}", reader, a.getCertificate},
		{"POST", "/v1/accounts/{account_id}/certificates/{certificate_id}/revoke", writer, a.revokeCertificate},

		// Audit log.
		{"GET", "/v1/accounts/{account_id}/audit", reader, a.listAudit},
		{"GET", "/v1/accounts/{account_id}/audit/verify", reader, a.verifyAudit},
	}
}
