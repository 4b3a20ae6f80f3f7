// The lab's JSON API: every answer is JSON; an error answer's message is thrown.

async function call(method, path, body) {
  const init = { method, headers: {} };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  const answer = await fetch(path, init);
  const result = await answer.json().catch(() => ({ error: answer.statusText }));
  if (!answer.ok) throw new Error(result.error || `${answer.status} ${answer.statusText}`);
  return result;
}

export const get = (path) => call("GET", path);
export const post = (path, body) => call("POST", path, body);
