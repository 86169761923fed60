package llm

// Role is who wrote a message of a conversation.
type Role string

// Roles of a conversation, whatever the wire API called them.
const (
	RoleSystem    Role = "system"
	RoleUser      Role = "user"
	RoleAssistant Role = "assistant"
	RoleTool      Role = "tool"
)

// Conversation is a model request reduced to what a Brain may look at: the
// same for the OpenAI chat, OpenAI responses and Anthropic messages APIs.
type Conversation struct {
	Model    string
	Messages []Message
	// Tools are the names of the tools the request offered.
	Tools []string
}

// Message is one turn of a conversation.
type Message struct {
	Role Role
	Text string
	// ToolCalls are the calls an assistant turn made.
	ToolCalls []ToolCall
	// ToolCallID is the call a tool turn answers.
	ToolCallID string
}

// ToolCall is a call of a tool by name with JSON arguments.
type ToolCall struct {
	ID        string
	Name      string
	Arguments string
}

// Reply is what the model answers: tool calls, or else a final text.
type Reply struct {
	Text      string
	ToolCalls []ToolCall
}

// Brain decides the model's reply to a conversation. It must be
// deterministic and must not fail: whatever it is given, it answers.
type Brain interface {
	Respond(Conversation) Reply
}
