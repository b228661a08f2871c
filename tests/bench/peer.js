// Copied verbatim from the project's shared/perf/peer.js (see its README): the yardstick of issue 12.
// A peer a user might write instead: Fastify + node-postgres serving the same two routes
// against Allied's own schema (API key by prefix + SHA-256, tenant filter, JSON from row).
const fastify = require('fastify')({ logger: false });
const { Pool } = require('pg');
const crypto = require('crypto');
const pool = new Pool({ connectionString: process.env.DATABASE_URL, max: 8 });

async function auth(req, reply) {
  const h = req.headers.authorization || '';
  const key = h.startsWith('Bearer ') ? h.slice(7) : '';
  const r = await pool.query({ name: 'key', text: 'SELECT id, tenant_id, role, secret_hash FROM api_keys WHERE prefix = $1 AND revoked_at IS NULL', values: [key.slice(0, 15)] });
  const hash = crypto.createHash('sha256').update(key).digest('hex');
  if (!r.rows.length || !crypto.timingSafeEqual(Buffer.from(hash), Buffer.from(r.rows[0].secret_hash))) {
    reply.code(401).type('application/problem+json').send({ title: 'Unauthorized', status: 401 });
    return null;
  }
  return r.rows[0];
}

fastify.get('/v1/partners/:id', async (req, reply) => {
  const k = await auth(req, reply); if (!k) return;
  const r = await pool.query({ name: 'get', text: 'SELECT row_to_json(p) AS j, version FROM partners p WHERE tenant_id = $1 AND id = $2', values: [k.tenant_id, req.params.id] });
  if (!r.rows.length) return reply.code(404).send({ title: 'Not found', status: 404 });
  reply.header('etag', `"${r.rows[0].version}"`).send(r.rows[0].j);
});

fastify.post('/v1/partners', async (req, reply) => {
  const k = await auth(req, reply); if (!k) return;
  const b = req.body || {};
  if (typeof b.name !== 'string') return reply.code(400).send({ title: 'Bad request', status: 400 });
  const r = await pool.query({ name: 'ins', text: "INSERT INTO partners (tenant_id, id, name, company, tags, kind, status, metadata) VALUES ($1, gen_random_uuid(), $2, $3, $4, 'referral', 'prospect', '{}') RETURNING row_to_json(partners) AS j, version", values: [k.tenant_id, b.name, b.company || null, b.tags || []] });
  reply.code(201).header('etag', `"${r.rows[0].version}"`).send(r.rows[0].j);
});

fastify.listen({ port: +process.env.PORT, host: '127.0.0.1' });
