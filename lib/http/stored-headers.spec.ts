import { headersToStore } from './stored-headers.js';

describe('headersToStore', () => {
  it('keeps what the route set or changed, never per-response headers', () => {
    const before = { 'x-request-id': 'r1', 'access-control-allow-origin': '*', vary: 'Origin' };
    const atSend = {
      ...before,
      vary: 'Origin, Accept-Language',
      'content-type': 'text/html; charset=utf-8',
      'set-cookie': ['sid=1'],
      date: 'now',
      etag: '"x"',
      link: ['<a>', '<b>'],
      'x-n': 5,
    };
    expect(headersToStore(before, atSend, 42)).toEqual({
      vary: 'Origin, Accept-Language',
      'content-type': 'text/html; charset=utf-8',
      link: ['<a>', '<b>'],
      'x-n': '5',
      'content-length': '42',
    });
  });

  it('keeps the content type even when a middleware set the same one, and no length with holes', () => {
    const type = { 'content-type': 'application/json; charset=utf-8' };
    expect(headersToStore(type, type, undefined)).toEqual(type);
  });
});
