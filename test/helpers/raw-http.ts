/**
 * Sends `request` as it is over a new TCP connection to `baseUrl` and returns everything the
 * server wrote until it closed the connection: for requests no HTTP client would send.
 */
export function sendRaw(baseUrl: string, request: string): Promise<string> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise<string>((resolve, reject) => {
    let received = "";
    void Bun.connect({
      hostname,
      port: Number(port),
      socket: {
        open: (socket) => void socket.write(request),
        data: (_socket, data) => {
          received += data.toString();
        },
        close: () => resolve(received),
        error: (_socket, err) => reject(err),
      },
    });
  });
}

/** A hold request whose body is declared both by Content-Length and as chunked. */
export function holdDeclaredTwice(productId: number): string {
  const hold = JSON.stringify({ product_id: productId, qty: 1 });
  return (
    `POST /api/holds HTTP/1.1\r\nHost: sale.test\r\nContent-Type: application/json\r\n` +
    `Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n` +
    `${hold.length.toString(16)}\r\n${hold}\r\n0\r\n\r\n`
  );
}
