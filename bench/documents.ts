/** Benchmark documents: `doc_id`, a title and a body padded to about `bytes` bytes of JSON. */
export const makeDocuments = (count: number, bytes = 1024, firstId = 0) => {
  const filler = 'lorem ipsum dolor sit amet, 中文 text 混合 '.repeat(Math.ceil(bytes / 40));
  return Array.from({ length: count }, (_, i) => {
    const id = firstId + i;
    const title = `document ${id}`;
    const body = filler.slice(0, Math.max(0, bytes - 60 - title.length));
    return { doc_id: id, title, body, url: `https://example.com/d/${id}` };
  });
};

export type BenchDocument = ReturnType<typeof makeDocuments>[number];

export const toMessages = (docs: readonly BenchDocument[]) =>
  docs.map((d) => ({ key: String(d.doc_id), value: JSON.stringify(d) }));
