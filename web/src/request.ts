// The page's one way to call the app's API: JSON in, JSON out, and the app's own
// message as the error.
export type Obj = { [key: string]: any };
// The app's message, and which form fields it is about (shown next to them).
export type FieldError = Error & { fields?: Record<string, string> };

export async function call(path: string, init: RequestInit = {}): Promise<Obj> {
  const response = await fetch(path, { headers: { "Content-Type": "application/json" }, ...init });
  const body = response.status === 204 ? {} : await response.json().catch(() => ({}));
  if (!response.ok) {
    const error: FieldError = new Error((body.error && body.error.message) || `HTTP ${response.status}`);
    error.fields = (body.error && body.error.fields) || {};
    throw error;
  }
  return body;
}
