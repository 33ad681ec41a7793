/**
 * The caches of the cloud film (issue 13 item 10): parsed instances and rendered JPEGs are
 * bounded by bytes, not by count, so 24 large multi-frame instances cannot hold gigabytes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PARSED_CACHE_BYTES } from './film-media.ts';
import { LruCache } from './lru-cache.ts';

const bytes = (buffer: Buffer) => buffer.length;

test('the cache keeps the sum of its entries’ sizes within the budget, evicting the least recently used', () => {
  const cache = new LruCache<Buffer>(100, bytes);
  cache.set('a', Buffer.alloc(40));
  cache.set('b', Buffer.alloc(40));
  assert.ok(cache.get('a'), 'a is now the most recently used');
  cache.set('c', Buffer.alloc(40));
  assert.equal(cache.get('b'), undefined, 'b was least recently used and is gone');
  assert.ok(cache.get('a'));
  assert.ok(cache.get('c'));
  assert.equal(cache.size, 80);
  cache.set('a', Buffer.alloc(10));
  assert.equal(cache.size, 50, 'replacing an entry counts only its new size');
});

test('an entry bigger than the whole budget is not kept and evicts nothing', () => {
  const cache = new LruCache<Buffer>(100, bytes);
  cache.set('small', Buffer.alloc(30));
  cache.set('big', Buffer.alloc(101));
  assert.equal(cache.get('big'), undefined);
  assert.ok(cache.get('small'));
  assert.equal(cache.size, 30);
});

test('many small entries are all kept while they fit (the old cache stopped at 24)', () => {
  const cache = new LruCache<Buffer>(PARSED_CACHE_BYTES, bytes);
  for (let i = 0; i < 100; i++) cache.set(String(i), Buffer.alloc(1024));
  assert.equal(cache.count, 100);
  for (let i = 0; i < 100; i++) cache.set(`big${i}`, Buffer.alloc(1024 * 1024));
  assert.ok(cache.size <= PARSED_CACHE_BYTES, `${cache.size} bytes kept`);
});

test('without a size function it counts entries', () => {
  const cache = new LruCache<number>(2);
  cache.set('a', 1);
  cache.set('b', 2);
  cache.set('c', 3);
  assert.equal(cache.count, 2);
  assert.equal(cache.get('a'), undefined);
});
