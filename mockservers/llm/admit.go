package llm

import (
	"fmt"
	"net/http"
)

// refusal is why a request was turned away before the brain saw it.
type refusal int

const (
	refusedCredential refusal = iota
	refusedBody
	refusedModel
)

// refuser writes a refusal in one API's error shape.
type refuser func(w http.ResponseWriter, status int, why refusal, message string)

// modelRequest is a decoded request body that names a model.
type modelRequest interface{ requestedModel() string }

// admit checks the credential, decodes the body into req and checks the
// model, in the order a real provider does. It writes any refusal itself.
func (s *Server) admit(w http.ResponseWriter, r *http.Request, req modelRequest, refuse refuser) bool {
	if !s.authorized(r) {
		refuse(w, http.StatusUnauthorized, refusedCredential, "Incorrect API key provided.")
		return false
	}
	if status, msg, ok := decodeBody(w, r, req); !ok {
		refuse(w, status, refusedBody, msg)
		return false
	}
	if model := req.requestedModel(); !s.serves(model) {
		refuse(w, http.StatusNotFound, refusedModel,
			fmt.Sprintf("The model `%s` does not exist or you do not have access to it.", model))
		return false
	}
	return true
}

func refuseOpenAI(w http.ResponseWriter, status int, why refusal, message string) {
	switch why {
	case refusedCredential:
		writeOpenAIError(w, status, "invalid_request_error", "invalid_api_key", message)
	case refusedModel:
		writeOpenAIError(w, status, "invalid_request_error", "model_not_found", message)
	default:
		writeOpenAIError(w, status, "invalid_request_error", "invalid_request", message)
	}
}

func refuseAnthropic(w http.ResponseWriter, status int, why refusal, message string) {
	switch why {
	case refusedCredential:
		writeAnthropicError(w, status, "authentication_error", "invalid x-api-key")
	case refusedModel:
		writeAnthropicError(w, status, "not_found_error", "model_not_found: "+message)
	default:
		if status == http.StatusRequestEntityTooLarge {
			writeAnthropicError(w, status, "request_too_large", message)
			return
		}
		writeAnthropicError(w, status, "invalid_request_error", message)
	}
}

// handleListModels serves GET /v1/models.
func (s *Server) handleListModels(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(r) {
		refuseOpenAI(w, http.StatusUnauthorized, refusedCredential, "Incorrect API key provided.")
		return
	}
	data := make([]map[string]any, 0, len(s.models))
	for _, m := range s.models {
		data = append(data, s.modelObject(m))
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": data})
}

// handleGetModel serves GET /v1/models/{model}.
func (s *Server) handleGetModel(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(r) {
		refuseOpenAI(w, http.StatusUnauthorized, refusedCredential, "Incorrect API key provided.")
		return
	}
	model := r.PathValue("model")
	if !s.serves(model) {
		refuseOpenAI(w, http.StatusNotFound, refusedModel,
			fmt.Sprintf("The model `%s` does not exist or you do not have access to it.", model))
		return
	}
	writeJSON(w, http.StatusOK, s.modelObject(model))
}

func (s *Server) modelObject(id string) map[string]any {
	return map[string]any{"id": id, "object": "model", "created": 1700000000, "owned_by": "hopguard-mock"}
}
