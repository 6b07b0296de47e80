"""Running jobs on ComfyUI servers (issue 16): the remote engine and what it is built from.

`engine.RemoteEngine` has the local engine's contract (a request in, the same typed events out, a
`JobHandle`), so the UI and the CLI do not know which one runs a job. Below it: `servers` (which
servers, their URLs and tokens), `samplers` (Studio's A1111 names -> ComfyUI sampler + scheduler),
`workflow` (a request and its plan -> a ComfyUI API graph), `images` (what is uploaded and how results
are composited, through Studio's own plan), `validate` (every server reply checked before use),
`client` (one server's HTTP and WebSocket API) and `worker` (one server's connection and jobs).

Pure Python + requests + websocket-client + Pillow/numpy: no Qt, no torch, nothing from
studio.engine or studio.ui (an import-linter contract says so).
"""
