// The Settings panels' one way to call the app's API: JSON in, JSON out, and the app's own
// message as the error.
export type Obj = { [key: string]: any };

export async function call(path: string, init: RequestInit = {}): Promise<Obj> {
  const response = await fetch(path, { headers: { "Content-Type": "application/json" }, ...init });
  const body = response.status === 204 ? {} : await response.json().catch(() => ({}));
  if (!response.ok) throw new Error((body.error && body.error.message) || `HTTP ${response.status}`);
  return body;
}
