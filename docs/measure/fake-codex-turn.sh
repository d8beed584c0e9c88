#!/bin/sh
# Stands in for `codex exec --json`: the event stream of a 2-second turn.
echo '{"type":"thread.started","thread_id":"00000000-0000-0000-0000-000000000001"}'
echo '{"type":"turn.started"}'
sleep 2
echo '{"type":"item.completed","item":{"id":"i0","type":"agent_message","text":"ok"}}'
echo '{"type":"turn.completed","usage":{"input_tokens":1,"cached_input_tokens":0,"output_tokens":1}}'
