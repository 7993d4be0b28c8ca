// The ChatKit thread items the built-in client shows, as chatkit-python defines them.
import type { Obj } from "./protocol";

export interface AttachmentRef { id: string; type: "image" | "file"; name: string; mime_type?: string }
export interface UserContent { type: "input_text" | "input_tag"; text: string; group?: string | null }
export interface OutputText { type: "output_text"; text: string; annotations?: Obj[] }

interface Base { id: string; thread_id?: string; created_at?: string }
export interface UserMessageItem extends Base { type: "user_message"; content: UserContent[]; attachments: AttachmentRef[] }
export interface AssistantMessageItem extends Base { type: "assistant_message"; content: OutputText[] }
export interface WidgetItem extends Base { type: "widget"; widget: Obj }
export interface WorkflowItem extends Base { type: "workflow"; workflow: { type: string; tasks: Obj[]; expanded?: boolean } }
export interface TaskItem extends Base { type: "task"; task: { type?: string; title?: string; content?: string } }
export interface GeneratedImageItem extends Base { type: "generated_image"; image?: { url: string } | null; progress?: number }
export interface ClientToolCallItem extends Base { type: "client_tool_call"; name: string; status: "pending" | "completed"; arguments?: Obj; call_id?: string }
// Items that take no space: hidden context, end of turn, and anything newer than this client.
export interface QuietItem extends Base { type: "hidden_context_item" | "sdk_hidden_context" | "end_of_turn" | "structured_input" }

export type ThreadItem =
  | UserMessageItem | AssistantMessageItem | WidgetItem | WorkflowItem | TaskItem
  | GeneratedImageItem | ClientToolCallItem | QuietItem;
