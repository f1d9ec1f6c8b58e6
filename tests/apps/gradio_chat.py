"""The Gradio chat of tests/apps/gradio.test.mjs: a ChatInterface whose
function is a generator yielding the reply a token at a time, 150 ms apart,
so the browser can be seen receiving it piece by piece (Gradio streams it
over server-sent events). Nothing in it knows of session-gate."""
import sys
import time

import gradio as gr

WORDS = "the gate streams every token as it is made".split()


def reply(message, history):
    text = ""
    for word in [f"echo({message}):"] + WORDS:
        text = f"{text} {word}".strip()
        time.sleep(0.15)
        yield text


gr.ChatInterface(fn=reply, title="Gate chat").queue().launch(
    server_name="127.0.0.1", server_port=int(sys.argv[1]), share=False, show_error=True
)
