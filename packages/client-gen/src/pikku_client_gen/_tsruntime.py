"""Fixed TypeScript source shared by every generated client (no runtime dependencies)."""

from __future__ import annotations

__all__ = ["TS_CHANNEL_RUNTIME", "TS_HTTP_RUNTIME", "TS_RESERVED"]

TS_RESERVED = frozenset(
    {
        "ApiError",
        "Array",
        "ArrayBuffer",
        "Boolean",
        "ChannelCallError",
        "ChannelClient",
        "ChannelOptions",
        "Client",
        "ClientOptions",
        "Date",
        "Error",
        "Function",
        "Headers",
        "JSON",
        "Map",
        "Math",
        "Number",
        "Object",
        "Partial",
        "Problem",
        "Promise",
        "Record",
        "RPCClient",
        "BaseClient",
        "Request",
        "RequestInit",
        "Response",
        "Set",
        "String",
        "Symbol",
        "TextDecoder",
        "URLSearchParams",
        "WebSocket",
    }
)

TS_HTTP_RUNTIME = r"""
/** An RFC 9457 problem document carrying the pikku error shape. */
export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  name: string;
  message: string;
  payload?: unknown;
  error_id?: string | null;
}

/** An error answer from the server; `problem` is the body it sent. */
export class ApiError extends Error {
  readonly status: number;
  readonly problem: Problem;

  constructor(status: number, problem: Problem) {
    super(`${problem.name || "ApiError"} (${status}): ${problem.message || problem.detail || ""}`);
    this.name = problem.name || "ApiError";
    this.status = status;
    this.problem = problem;
  }
}

/** Options of `Client`. */
export interface ClientOptions {
  /**
   * How the session the server sets is kept: "cookie" (default; the browser keeps it, on
   * Node the client keeps `Set-Cookie`) or "bearer" (the token returned in `X-Session-Token`
   * is sent as `Authorization: Bearer`; call `clearSession()` on logout).
   */
  session?: "cookie" | "bearer";
  /** A bearer token to send. */
  token?: string;
  /** Extra headers sent with every request. */
  headers?: Record<string, string>;
  /** The fetch implementation (default: the global one). */
  fetch?: typeof fetch;
  /** Browser credentials mode (default "include", so the session cookie is sent). */
  credentials?: RequestCredentials;
}

type Query = Array<[string, string]>;

function text(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

function toQuery(input: Record<string, unknown>, names: readonly string[]): Query {
  const out: Query = [];
  for (const name of names) {
    const value = input[name];
    if (value === undefined || value === null) continue;
    for (const item of Array.isArray(value) ? value : [value]) out.push([name, text(item)]);
  }
  return out;
}

function pick(input: Record<string, unknown>, names: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name of names) if (input[name] !== undefined) out[name] = input[name];
  return out;
}

function formData(input: Record<string, unknown>, names: readonly string[]): FormData {
  const form = new FormData();
  for (const name of names) {
    const value = input[name];
    if (value === undefined || value === null) continue;
    if (value instanceof Blob) form.append(name, value);
    else for (const item of Array.isArray(value) ? value : [value]) form.append(name, text(item));
  }
  return form;
}

function segment(value: unknown): string {
  return encodeURIComponent(text(value));
}

async function problemOf(response: globalThis.Response): Promise<ApiError> {
  const body = await response.text();
  let problem: Problem;
  try {
    problem = JSON.parse(body) as Problem;
  } catch {
    problem = { name: "HTTPError", message: body || response.statusText };
  }
  return new ApiError(response.status, problem);
}

/** The base of the generated HTTP client: session handling, requests, SSE parsing. */
export class BaseClient {
  readonly baseUrl: string;
  /** The bearer token sent with each request. */
  token: string | undefined;
  /** Cookies kept from `Set-Cookie` where the runtime exposes it (Node); browsers keep their own. */
  readonly cookies: Map<string, string> = new Map();
  private readonly headers: Record<string, string>;
  private readonly fetchImpl: typeof fetch;
  private readonly credentials: RequestCredentials;
  private readonly bearer: boolean;

  constructor(baseUrl: string, options: ClientOptions = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
    this.bearer = options.session === "bearer";
    this.token = options.token;
    this.headers = { ...(options.headers ?? {}) };
    this.fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.credentials = options.credentials ?? "include";
  }

  /** Forget the bearer token and the kept cookies. */
  clearSession(): void {
    this.token = undefined;
    this.cookies.clear();
  }

  protected async request(
    method: string,
    path: string,
    query: Query,
    body: unknown,
    accept: string,
  ): Promise<globalThis.Response> {
    const headers: Record<string, string> = { ...this.headers, accept };
    if (this.token) headers["authorization"] = `Bearer ${this.token}`;
    if (this.cookies.size > 0) {
      headers["cookie"] = [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
    }
    const init: RequestInit = { method, headers, credentials: this.credentials };
    if (body instanceof FormData) {
      init.body = body; // fetch sets the multipart content type with its boundary
    } else if (body !== undefined) {
      headers["content-type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const qs = query.length > 0 ? "?" + new URLSearchParams(query).toString() : "";
    const response = await this.fetchImpl(this.baseUrl + path + qs, init);
    this.keepSession(response);
    if (response.status >= 400) throw await problemOf(response);
    return response;
  }

  protected async json<T>(method: string, path: string, query: Query, body: unknown): Promise<T> {
    const response = await this.request(method, path, query, body, "application/json");
    // A function that returned None answers 204 (only when its type admits null).
    if (response.status === 204) return null as T;
    return (await response.json()) as T;
  }

  protected async empty(method: string, path: string, query: Query, body: unknown): Promise<void> {
    const response = await this.request(method, path, query, body, "application/json");
    await response.arrayBuffer();
  }

  protected async *events<T>(
    method: string,
    path: string,
    query: Query,
    body: unknown,
  ): AsyncGenerator<T, void, undefined> {
    const response = await this.request(method, path, query, body, "text/event-stream");
    if (response.body === null) return;
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    let event = "message";
    let data: string[] = [];
    for (;;) {
      const chunk = await reader.read();
      buffer += chunk.done ? decoder.decode() : decoder.decode(chunk.value, { stream: true });
      let newline = buffer.search(/\r?\n/);
      while (newline >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(buffer[newline] === "\r" ? newline + 2 : newline + 1);
        if (line === "") {
          if (data.length > 0) {
            const payload = data.join("\n");
            if (event === "error") {
              const problem = JSON.parse(payload) as Problem;
              throw new ApiError(problem.status ?? 500, problem);
            }
            yield JSON.parse(payload) as T;
          }
          event = "message";
          data = [];
        } else if (!line.startsWith(":")) {
          const colon = line.indexOf(":");
          const field = colon < 0 ? line : line.slice(0, colon);
          let value = colon < 0 ? "" : line.slice(colon + 1);
          if (value.startsWith(" ")) value = value.slice(1);
          if (field === "data") data.push(value);
          else if (field === "event") event = value;
        }
        newline = buffer.search(/\r?\n/);
      }
      if (chunk.done) return;
    }
  }

  private keepSession(response: globalThis.Response): void {
    if (this.bearer) {
      const token = response.headers.get("x-session-token");
      if (token) this.token = token;
      return;
    }
    const headers = response.headers as Headers & { getSetCookie?: () => string[] };
    const setCookies = typeof headers.getSetCookie === "function" ? headers.getSetCookie() : [];
    for (const header of setCookies) {
      const [pair = "", ...attrs] = header.split(";");
      const eq = pair.indexOf("=");
      if (eq <= 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attrs.some((a) => /^\s*max-age\s*=\s*(0|-\d+)\s*$/i.test(a));
      if (!value || expired) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
}
"""

TS_CHANNEL_RUNTIME = r"""
/** The error shape a channel sends in an error reply. */
export class ChannelCallError extends Error {
  readonly error: Problem;

  constructor(error: Problem) {
    super(`${error.name}: ${error.message}`);
    this.name = error.name || "ChannelCallError";
    this.error = error;
  }
}

/** Options of `ChannelClient`. */
export interface ChannelOptions {
  /** The WebSocket constructor (default: the global one; Node 20 needs --experimental-websocket). */
  WebSocket?: typeof WebSocket;
  /** Milliseconds a request waits for its reply (default 30000). */
  timeoutMs?: number;
}

type Reply = Record<string, unknown>;

interface Waiter {
  push(reply: Reply): void;
  fail(error: Error): void;
}

/** A small channel client: requests matched to replies by `id`, topic events by name. */
export class ChannelClient {
  readonly url: string;
  private socket: WebSocket | undefined;
  private nextId = 1;
  private readonly waiting = new Map<number, Waiter>();
  private readonly topics = new Map<string, Set<(data: unknown) => void>>();
  private readonly options: ChannelOptions;

  constructor(url: string, options: ChannelOptions = {}) {
    this.url = url;
    this.options = options;
  }

  /** Open the connection. */
  connect(): Promise<void> {
    const Ctor = this.options.WebSocket ?? globalThis.WebSocket;
    const socket = new Ctor(this.url);
    this.socket = socket;
    socket.addEventListener("message", (event: MessageEvent) => this.dispatch(event.data));
    socket.addEventListener("close", () => this.failAll(new Error("channel connection closed")));
    return new Promise((resolve, reject) => {
      socket.addEventListener("open", () => resolve(), { once: true });
      socket.addEventListener("error", () => reject(new Error(`cannot connect to ${this.url}`)), {
        once: true,
      });
    });
  }

  /** Close the connection; pending requests fail. */
  close(): void {
    this.socket?.close();
    this.failAll(new Error("the channel client was closed"));
  }

  /** Call `callback(data)` for each event published to `topic`; returns an unsubscribe function. */
  subscribe<T>(topic: string, callback: (data: T) => void): () => void {
    let set = this.topics.get(topic);
    if (set === undefined) {
      set = new Set();
      this.topics.set(topic, set);
    }
    const entry = (data: unknown): void => callback(data as T);
    set.add(entry);
    return () => {
      set?.delete(entry);
    };
  }

  /** Send one action and resolve with its reply (without `id`); error replies reject. */
  send(action: string, data: Record<string, unknown> | undefined): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const id = this.post(action, data, {
        push: (reply) => {
          clearTimeout(timer);
          this.waiting.delete(id);
          resolve(reply);
        },
        fail: (error) => {
          clearTimeout(timer);
          this.waiting.delete(id);
          reject(error);
        },
      });
      const timer = setTimeout(() => {
        this.waiting.get(id)?.fail(new Error(`no reply to ${action} in time`));
      }, this.options.timeoutMs ?? 30000);
    });
  }

  /** Send an action wired to a streaming function and yield each item's reply. */
  async *stream(action: string, data: Record<string, unknown> | undefined): AsyncGenerator<Reply> {
    const queue: Array<Reply | Error> = [];
    let wake: (() => void) | undefined;
    const id = this.post(action, data, {
      push: (reply) => {
        queue.push(reply);
        wake?.();
      },
      fail: (error) => {
        queue.push(error);
        wake?.();
      },
    });
    try {
      for (;;) {
        while (queue.length === 0) await new Promise<void>((resolve) => (wake = resolve));
        const item = queue.shift() as Reply | Error;
        if (item instanceof Error) throw item;
        if (item["done"] === true && Object.keys(item).every((k) => k === "action" || k === "done")) {
          return;
        }
        yield item;
      }
    } finally {
      this.waiting.delete(id);
    }
  }

  private post(action: string, data: Record<string, unknown> | undefined, waiter: Waiter): number {
    const socket = this.socket;
    if (socket === undefined) throw new Error("the channel client is not connected");
    const id = this.nextId++;
    this.waiting.set(id, waiter);
    socket.send(JSON.stringify({ ...(data ?? {}), action, id }));
    return id;
  }

  private dispatch(raw: unknown): void {
    if (typeof raw !== "string") return;
    let message: unknown;
    try {
      message = JSON.parse(raw);
    } catch {
      return;
    }
    if (typeof message !== "object" || message === null) return;
    const reply = message as Reply;
    const id = reply["id"];
    if (typeof id === "number" && this.waiting.has(id)) {
      const waiter = this.waiting.get(id) as Waiter;
      const error = reply["error"];
      if (typeof error === "object" && error !== null) {
        waiter.fail(new ChannelCallError(error as Problem));
        return;
      }
      const rest: Reply = { ...reply };
      delete rest["id"];
      waiter.push(rest);
      return;
    }
    const topic = reply["topic"];
    if (typeof topic === "string" && "data" in reply) {
      for (const callback of this.topics.get(topic) ?? []) callback(reply["data"]);
    }
  }

  private failAll(error: Error): void {
    for (const waiter of [...this.waiting.values()]) waiter.fail(error);
    this.waiting.clear();
  }
}

function merged<T>(reply: Reply): T {
  const rest: Reply = { ...reply };
  delete rest["action"];
  return rest as T;
}

function result<T>(reply: Reply): T {
  // None replies carry only the action; non-object outputs, and object outputs holding a
  // reply key (action, id, error, result, done), come whole under "result".
  if ("result" in reply) return reply["result"] as T;
  const keys = Object.keys(reply).filter((k) => k !== "action");
  if (keys.length === 0) return null as T;
  return merged<T>(reply);
}
"""
