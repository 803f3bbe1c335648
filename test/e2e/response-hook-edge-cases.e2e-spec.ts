// Express only, whatever HTTP_PLATFORM says: these cases are about the commit hooks on Node's
// `writeHead`/`end` that the Express platform installs (a response written by hand under @Res(),
// `res.end(123)`, `writeHead` with its own Set-Cookie). On Fastify the commit runs in the onSend
// hook instead; its response paths are covered by commit-paths and fastify-platform.
import {
  ArgumentsHost,
  BadRequestException,
  Catch,
  Controller,
  Get,
  HttpException,
  Post,
  Res,
  type ExceptionFilter,
  type INestApplication,
} from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { Response as ExpressResponse } from 'express';
import request from 'supertest';
import { Session, SessionModule } from '@app/session';
import { FailingStore, SlowStore, sessionCookieFrom, setCookieHeadersOf, sleep, TEST_SECRET } from '../support/test-stores';

type AppSession = Session<{ value: string }>;

@Controller()
class EdgeController {
  /** Sends a response, then throws while the commit of the written session is still pending. */
  @Post('send-then-throw')
  sendThenThrow(@Session() session: AppSession, @Res() response: ExpressResponse): void {
    session.value = 'sent';
    response.status(200).send('ok');
    throw new BadRequestException('too late');
  }

  /** Streams a first chunk, then asks the (failing) store to save. */
  @Post('stream-then-save')
  async streamThenSave(@Session() session: AppSession, @Res() response: ExpressResponse): Promise<void> {
    response.status(200);
    response.write('chunk;');
    session.value = 'streamed';
    await session.save();
    response.end('done');
  }

  /** Logs in, then writes its own cookie through writeHead's headers argument. */
  @Post('login-with-own-cookie')
  async loginWithOwnCookie(@Session() session: AppSession, @Res() response: ExpressResponse): Promise<void> {
    await session.login({ id: 'alice' });
    response.writeHead(200, { 'Set-Cookie': 'theme=dark; Path=/', 'Content-Type': 'text/plain' });
    response.end('ok');
  }

  /** A store call the handler makes itself. */
  @Post('save')
  async save(@Session() session: AppSession): Promise<{ ok: true }> {
    session.value = 'saved';
    await session.save();
    return { ok: true };
  }

  /** Ends the response with an invalid chunk after writing the session. */
  @Post('bad-end')
  badEnd(@Session() session: AppSession, @Res() response: ExpressResponse): void {
    session.value = 'x';
    (response.end as (chunk: unknown) => void)(123);
  }

  @Get('value')
  value(@Session() session: AppSession): { value: string | null } {
    return { value: session.value ?? null };
  }
}

/** The catch-all filter of Nest's documentation: anything that is not an HttpException is a 500. */
@Catch()
class AllExceptionsFilter implements ExceptionFilter {
  catch(exception: unknown, host: ArgumentsHost): void {
    const response = host.switchToHttp().getResponse<ExpressResponse>();
    const status = exception instanceof HttpException ? exception.getStatus() : 500;
    response.status(status).json({ statusCode: status, caughtBy: 'AllExceptionsFilter' });
  }
}

async function createApp(store: FailingStore, options: { catchAll?: boolean } = {}): Promise<INestApplication> {
  const moduleRef = await Test.createTestingModule({
    imports: [SessionModule.forRoot({ secret: TEST_SECRET, store })],
    controllers: [EdgeController],
  }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  if (options.catchAll) app.useGlobalFilters(new AllExceptionsFilter());
  await app.init();
  return app;
}

describe('The response hook on unusual response paths', () => {
  let app: INestApplication;
  let store: FailingStore;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);

  beforeAll(() => process.on('unhandledRejection', onUnhandled));
  afterAll(() => process.off('unhandledRejection', onUnhandled));

  beforeEach(async () => {
    store = new FailingStore(new SlowStore(50));
    app = await createApp(store);
  });

  afterEach(async () => {
    await app.close();
    expect(unhandled).toEqual([]);
  });

  it('an exception thrown after res.send() while the commit is pending does not rewrite the sent response', async () => {
    const response = await request(app.getHttpServer()).post('/send-then-throw');
    expect(response.status).toBe(200);
    expect(response.text).toBe('ok');
    const cookie = sessionCookieFrom(response);
    await request(app.getHttpServer()).get('/value').set('Cookie', cookie).expect(200, { value: 'sent' });
  });

  it('a streamed response whose save fails is ended (cut), not left hanging', async () => {
    store.goDown(['set']);
    const started = Date.now();
    const outcome = await request(app.getHttpServer())
      .post('/stream-then-save')
      .timeout(5_000)
      .then(
        (response) => ({ status: response.status, error: undefined as unknown }),
        (error: unknown) => ({ status: undefined, error }),
      );
    expect(Date.now() - started).toBeLessThan(4_000);
    // Either the connection was cut or the response was ended; never a hang until the timeout.
    expect((outcome.error as { timeout?: unknown } | undefined)?.timeout).toBeUndefined();
  });

  it("keeps the session cookie when the handler passes its own Set-Cookie to writeHead", async () => {
    const response = await request(app.getHttpServer()).post('/login-with-own-cookie').expect(200);
    const cookies = setCookieHeadersOf(response);
    expect(cookies).toEqual(expect.arrayContaining([expect.stringMatching(/^theme=dark/), expect.stringMatching(/^sid=/)]));
    await request(app.getHttpServer()).get('/value').set('Cookie', sessionCookieFrom(response)).expect(200);
  });

  it('res.end() with an invalid chunk cuts the connection without an unhandled rejection', async () => {
    const outcome = await request(app.getHttpServer())
      .post('/bad-end')
      .timeout(5_000)
      .then(
        (response) => response.status,
        (error: { timeout?: unknown; code?: string }) => (error.timeout ? 'timeout' : 'cut'),
      );
    expect(outcome).not.toBe('timeout');
    await sleep(50);
  });
});

describe('A store failure in a handler under an application-wide catch-all filter', () => {
  let app: INestApplication;
  let store: FailingStore;

  beforeEach(async () => {
    store = new FailingStore();
    app = await createApp(store, { catchAll: true });
  });

  afterEach(async () => {
    await app.close();
  });

  it('still answers 503 (the failure reaches the filter as an HttpException), with no cookie and nothing saved', async () => {
    store.goDown(['set'], { hangMs: 0 });
    const response = await request(app.getHttpServer()).post('/save');
    expect(response.status).toBe(503);
    expect(response.body).toMatchObject({ statusCode: 503 });
    expect(setCookieHeadersOf(response)).toEqual([]);
    store.recover();
    expect(store.calls.filter((call) => call.operation === 'set' && call.outcome === 'resolved')).toEqual([]);
  });
});
