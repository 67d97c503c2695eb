package aci

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
)

// armAPIVersion is the Microsoft.ContainerInstance API version of the
// template (the one az confcom's samples use).
const armAPIVersion = "2023-05-01"

type armTemplateDoc struct {
	Schema         string                  `json:"$schema"`
	ContentVersion string                  `json:"contentVersion"`
	Parameters     map[string]armParameter `json:"parameters"`
	Resources      []armContainerGroup     `json:"resources"`
}

type armParameter struct {
	Type         string       `json:"type"`
	DefaultValue string       `json:"defaultValue,omitempty"`
	Metadata     armParamMeta `json:"metadata"`
}

type armParamMeta struct {
	Description string `json:"description"`
}

type armContainerGroup struct {
	Type       string             `json:"type"`
	APIVersion string             `json:"apiVersion"`
	Name       string             `json:"name"`
	Location   string             `json:"location"`
	Properties armGroupProperties `json:"properties"`
}

type armGroupProperties struct {
	SKU                           string             `json:"sku"`
	OSType                        string             `json:"osType"`
	ConfidentialComputeProperties armConfidential    `json:"confidentialComputeProperties"`
	ImageRegistryCredentials      []armRegistryCreds `json:"imageRegistryCredentials,omitempty"`
	Containers                    []armContainer     `json:"containers"`
	Volumes                       []armVolume        `json:"volumes"`
}

type armConfidential struct {
	CCEPolicy string `json:"ccePolicy"`
}

type armRegistryCreds struct {
	Server   string `json:"server"`
	Username string `json:"username"`
	Password string `json:"password"`
}

type armContainer struct {
	Name       string                 `json:"name"`
	Properties armContainerProperties `json:"properties"`
}

type armContainerProperties struct {
	Image                string           `json:"image"`
	Command              []string         `json:"command,omitempty"`
	EnvironmentVariables []armEnvVar      `json:"environmentVariables,omitempty"`
	Resources            armResources     `json:"resources"`
	VolumeMounts         []armVolumeMount `json:"volumeMounts"`
}

type armEnvVar struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type armResources struct {
	Requests armRequests `json:"requests"`
}

type armRequests struct {
	CPU        float64 `json:"cpu"`
	MemoryInGB float64 `json:"memoryInGB"`
}

type armVolumeMount struct {
	Name      string `json:"name"`
	MountPath string `json:"mountPath"`
	ReadOnly  bool   `json:"readOnly"`
}

type armVolume struct {
	Name     string   `json:"name"`
	EmptyDir struct{} `json:"emptyDir"`
}

// armTemplate writes the deployment template for in, with appCommand (nil:
// the image's own) and the policy. Registry passwords are secureString
// parameters registryPassword1, registryPassword2, … in the order of
// in.RegistryCredentials.
func armTemplate(in Input, appCommand []string, policy []byte) ([]byte, error) {
	location := in.Location
	if location == "" {
		location = "[resourceGroup().location]"
	}
	doc := armTemplateDoc{
		Schema:         "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
		ContentVersion: "1.0.0.0",
		Parameters: map[string]armParameter{
			"location": {
				Type:         "string",
				DefaultValue: armLiteral(location, in.Location != ""),
				Metadata:     armParamMeta{Description: "Azure region of the container group."},
			},
		},
	}
	group := armContainerGroup{
		Type:       "Microsoft.ContainerInstance/containerGroups",
		APIVersion: armAPIVersion,
		Name:       in.Name,
		Location:   "[parameters('location')]",
		Properties: armGroupProperties{
			SKU:                           "Confidential",
			OSType:                        "Linux",
			ConfidentialComputeProperties: armConfidential{CCEPolicy: base64.StdEncoding.EncodeToString(policy)},
			Containers: []armContainer{
				{
					Name: in.App.Name,
					Properties: armContainerProperties{
						Image:                armLiteral(in.App.ImageRef, true),
						Command:              armLiterals(appCommand),
						EnvironmentVariables: armEnv(in.App.Env),
						Resources:            armResources{Requests: armRequests{CPU: float64(in.CPU), MemoryInGB: in.MemoryGB}},
						VolumeMounts:         []armVolumeMount{{Name: volumeName, MountPath: RunDir, ReadOnly: true}},
					},
				},
				{
					Name: in.Agent.Name,
					Properties: armContainerProperties{
						Image:                armLiteral(in.Agent.ImageRef, true),
						Command:              armLiterals(AgentCommand(in.Agent.Args...)),
						EnvironmentVariables: armEnv(in.Agent.Env),
						Resources:            armResources{Requests: armRequests{CPU: in.Agent.CPU, MemoryInGB: in.Agent.MemoryGB}},
						VolumeMounts:         []armVolumeMount{{Name: volumeName, MountPath: RunDir}},
					},
				},
			},
			Volumes: []armVolume{{Name: volumeName}},
		},
	}
	for i, rc := range in.RegistryCredentials {
		param := fmt.Sprintf("registryPassword%d", i+1)
		doc.Parameters[param] = armParameter{
			Type:     "secureString",
			Metadata: armParamMeta{Description: fmt.Sprintf("Password of %s on the registry %s.", rc.Username, rc.Server)},
		}
		group.Properties.ImageRegistryCredentials = append(group.Properties.ImageRegistryCredentials, armRegistryCreds{
			Server:   armLiteral(rc.Server, true),
			Username: armLiteral(rc.Username, true),
			Password: fmt.Sprintf("[parameters('%s')]", param),
		})
	}
	doc.Resources = []armContainerGroup{group}

	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("aci: writing the ARM template: %w", err)
	}
	return buf.Bytes(), nil
}

// armLiteral escapes s so ARM takes it literally: a string in brackets is an
// expression unless it starts with "[[". Expressions this package writes
// itself pass literal=false.
func armLiteral(s string, literal bool) string {
	if literal && strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		return "[" + s
	}
	return s
}

func armLiterals(ss []string) []string {
	if len(ss) == 0 {
		return nil
	}
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = armLiteral(s, true)
	}
	return out
}

func armEnv(env []EnvVar) []armEnvVar {
	var out []armEnvVar
	for _, e := range env {
		out = append(out, armEnvVar{Name: e.Name, Value: armLiteral(e.Value, true)})
	}
	return out
}
