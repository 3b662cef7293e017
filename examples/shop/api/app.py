"""The shop's internal api (internal: true): products for the web, the next
order for the worker. Only the app's own processes reach it, by its name."""
import itertools
import os
import socket

from flask import Flask, jsonify

app = Flask(__name__)
orders = itertools.count(1)
PRODUCTS = [
    {"id": 1, "name": "teapot", "price": 18.5},
    {"id": 2, "name": "mug", "price": 6.0},
]


@app.get("/health")
def health():
    return "ok\n"


@app.get("/products")
def products():
    return jsonify(products=PRODUCTS, served_by=socket.gethostname())


@app.get("/orders/next")
def next_order():
    return jsonify(order=next(orders), release=os.environ.get("RELEASE", "-"))


if __name__ == "__main__":
    port = int(os.environ.get("PORT", "5000"))
    print(f"api listening on port {port}", flush=True)
    app.run(host="0.0.0.0", port=port, threaded=True)
