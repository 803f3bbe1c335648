import { Module } from '@nestjs/common';
import { PagesController } from './pages.controller';

/** The example's HTML pages. */
@Module({ controllers: [PagesController] })
export class PagesModule {}
