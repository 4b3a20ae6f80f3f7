// Talking to the server: every answer is JSON, errors carry one line in "error".

export async function call(path, { method = "GET", body, json } = {}) {
  const options = { method };
  if (json !== undefined) {
    options.body = JSON.stringify(json);
    options.headers = { "Content-Type": "application/json" };
  } else if (body !== undefined) {
    options.body = body;
    options.headers = { "Content-Type": body.type || "application/octet-stream" };
  }
  let answer;
  try {
    answer = await fetch(path, options);
  } catch (e) {
    throw new Error(`the server cannot be reached (${e.message})`);
  }
  let result;
  try {
    result = await answer.json();
  } catch (e) {
    throw new Error(`the server answered ${answer.status} ${answer.statusText}`);
  }
  if (!answer.ok) throw new Error(result.error || answer.statusText);
  return result;
}
