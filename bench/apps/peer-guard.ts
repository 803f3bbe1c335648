import { Injectable, UnauthorizedException, type CanActivate, type ExecutionContext } from '@nestjs/common';

interface RequestWithSession {
  session?: { user?: unknown } | null;
}

/** What a Nest app on express-session, cookie-session or iron-session writes by hand: 401 unless signed in. */
@Injectable()
export class PeerSessionGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<RequestWithSession>();
    if (!request.session?.user) throw new UnauthorizedException('Authentication required');
    return true;
  }
}
